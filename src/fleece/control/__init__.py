"""Remote control: the operator's commands from Telegram, the CLI and the dashboard.

* :mod:`~fleece.control.commands`: the command log in the store (who asked what, what came of
  it), queueing a flatten for the running bot and waiting for its result;
* :mod:`~fleece.control.runner`: the running bot's side, executing queued commands each cycle;
* :mod:`~fleece.control.replies`: the answers to ``/status``, ``/positions`` and ``/daily``;
* :mod:`~fleece.control.telegram`: the Telegram bot (python-telegram-bot);
* :mod:`~fleece.control.cli`: ``fleece flatten`` and ``fleece notify test``.
"""
