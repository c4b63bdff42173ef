"""Notifications: events, their delivery through apprise, and the dead-man's heartbeat.

Layout (the runtime imports :class:`~fleece.notify.hub.Notifications`; everything else injects
an :class:`~fleece.notify.events.EventSink`):

* :mod:`~fleece.notify.events`: the events, frozen dataclasses with a kind and a level;
* :mod:`~fleece.notify.messages`: their wording, fills batched into one message;
* :mod:`~fleece.notify.delivery`: the bounded queue and its worker thread (retries, counters);
* :mod:`~fleece.notify.destinations`: apprise URLs (``NOTIFY_URLS``);
* :mod:`~fleece.notify.heartbeat`: ``HEARTBEAT_URL`` pings;
* :mod:`~fleece.notify.watch`: broker outages from the broker's request counters;
* :mod:`~fleece.notify.reports`: the run and daily figures, read from the store;
* :mod:`~fleece.notify.hub`: the sink the runtime injects.

This package's ``__init__`` imports only the events, so that the configuration can name the
event kinds without importing apprise.
"""

from fleece.notify.events import NULL_SINK, Event, EventSink, Level

__all__ = ["NULL_SINK", "Event", "EventSink", "Level"]
