"""The suite's root: pytest puts this folder on ``sys.path`` (it holds no ``__init__``), so the
helpers shared by specs in every folder (``new_user``, ``startup_helpers``, ...) import by name."""
