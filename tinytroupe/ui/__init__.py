"""Interactive interfaces to agents (upstream's `tinytroupe.ui`).

`AgentChatJupyterWidget` (in `jupyter_widgets`) chats with agents in a Jupyter
notebook. ipywidgets is optional (``pip install 'tinytroupe[ui]'``) and is not imported
by importing this package: only building a widget tries to.
"""

from tinytroupe.ui.jupyter_widgets import AgentChatJupyterWidget

__all__ = ["AgentChatJupyterWidget"]
