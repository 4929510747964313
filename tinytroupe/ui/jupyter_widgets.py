"""AgentChatJupyterWidget: chat with agents from a Jupyter notebook (upstream's API).

``AgentChatJupyterWidget(agents_list).display()`` shows, in a notebook, a chat panel:
pick an agent, type a message (Enter or Send), and the agent hears it and acts
(``agent.listen_and_act(message, return_actions=True)``); what it says (TALK) and
thinks (THINK) is shown under the message, with times. The model call runs in a
background thread, so the notebook stays usable, while a spinner shows; one message is
handled at a time. A checkbox also prints the agent's communication in the cell's
output. Errors are shown in the panel, not raised.

ipywidgets is optional (``pip install 'tinytroupe[ui]'``) and is imported only when a
widget is built, never when this module is imported. Outside a Jupyter kernel (a
script converted from a notebook, say) or without ipywidgets, `display()` prints one
line saying what the chat needs and returns, so the script runs on.
"""

from __future__ import annotations

import datetime
import html
import logging
import sys
import threading
from typing import Any

__all__ = ["EXTRA_HINT", "AgentChatJupyterWidget", "in_jupyter", "widgets_available"]

logger = logging.getLogger("tinytroupe")

#: How to install what the widget needs.
EXTRA_HINT = "pip install 'tinytroupe[ui]'"

_PANEL = ("<div style='border: 1px solid #ccc; padding: 10px; height: 400px; "
          "overflow-y: auto; background-color: #fafafa;'>{}</div>")
_EMPTY = "<p><em>Pick an agent, type a message and press Enter.</em></p>"
_ENTRY_STYLES = {
    "user": "background-color: #e3f2fd; text-align: right;",
    "agent": "background-color: #f1f8e9;",
    "loading": "background-color: #fff8e1;",
    "error": "background-color: #ffebee;",
}
#: Seconds between two frames of the spinner.
_FRAME_SECONDS = 0.2


def in_jupyter() -> bool:
    """True inside a Jupyter kernel (a notebook or lab), False in a plain interpreter.

    Decided without importing IPython when it is not already loaded (a kernel always
    has it loaded).
    """
    ipython_module = sys.modules.get("IPython")
    if ipython_module is None:
        return False
    try:
        shell = ipython_module.get_ipython()
    except Exception:  # an IPython too odd to ask: not a notebook we can draw in
        return False
    if shell is None:
        return False
    return type(shell).__name__ == "ZMQInteractiveShell" or "IPKernelApp" in getattr(
        shell, "config", {})


def widgets_available() -> bool:
    """True if ipywidgets can be imported."""
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


class AgentChatJupyterWidget:
    """An interactive chat with `agents_list`'s agents in a Jupyter notebook (module doc).

    `agents` maps names to agents; `conversation_history` holds the entries shown
    (dicts with timestamp, sender, message and type: user, agent, loading or error).
    `widget` is the ipywidgets panel, or None where ipywidgets is missing.
    """

    def __init__(self, agents_list: list[Any]) -> None:
        self.agents: dict[str, Any] = {agent.name: agent for agent in agents_list}
        self.conversation_history: list[dict[str, str]] = []
        self.loading_animation_active = False
        self.loading_frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]
        self.current_loading_frame = 0
        self.widget: Any = None
        self._processing = False
        self._last_message = ""
        self._state_lock = threading.Lock()
        self._animation_stop = threading.Event()
        if widgets_available():
            self.setup_widgets()

    # --- widgets ----------------------------------------------------------------------

    def setup_widgets(self) -> None:
        """Build the panel: agent picker, message box, Send and Clear, the conversation.

        Raises ImportError naming the extra if ipywidgets is missing.
        """
        widgets = _import_ipywidgets()
        self.agent_dropdown = widgets.Dropdown(options=list(self.agents),
                                               description="Chat with:",
                                               style={"description_width": "initial"})
        self.message_input = widgets.Text(placeholder="Type your message and press Enter...",
                                          layout=widgets.Layout(width="60%"),
                                          continuous_update=False)
        self.send_button = widgets.Button(description="Send", button_style="primary",
                                          layout=widgets.Layout(width="80px"))
        self.clear_button = widgets.Button(description="Clear", button_style="warning",
                                           layout=widgets.Layout(width="80px"))
        self.communication_display_checkbox = widgets.Checkbox(
            value=False, description="Show agent communication in notebook output",
            style={"description_width": "initial"}, layout=widgets.Layout(width="auto"))
        self.conversation_display = widgets.HTML(value=_PANEL.format(_EMPTY))
        self.send_button.on_click(self._handle_send_click)
        self.clear_button.on_click(self.clear_conversation)
        # with continuous_update=False the value changes when Enter is pressed
        self.message_input.observe(self._handle_input_change, names="value")
        self.widget = widgets.VBox([
            widgets.HTML("<h3>Agent chat</h3>"),
            widgets.HBox([self.agent_dropdown, self.message_input, self.send_button,
                          self.clear_button]),
            self.communication_display_checkbox,
            self.conversation_display,
        ])

    def display(self) -> None:
        """Show the chat in the notebook; elsewhere print what it needs and return."""
        if not widgets_available():
            print("AgentChatJupyterWidget: the interactive chat needs a Jupyter notebook and "
                  f"ipywidgets ({EXTRA_HINT}); skipping it.")
            return
        if not in_jupyter():
            print("AgentChatJupyterWidget: the interactive chat needs a Jupyter notebook "
                  f"(and {EXTRA_HINT}); not running in one, so skipping it.")
            return
        if self.widget is None:
            self.setup_widgets()
        from IPython.display import display

        display(self.widget)

    # --- events -----------------------------------------------------------------------

    def _handle_send_click(self, _button: Any) -> None:
        self.send_message()

    def _handle_input_change(self, change: dict[str, Any]) -> None:
        """Send when the box's value changes to new text (Enter), not when we clear it."""
        new, old = str(change.get("new", "")).strip(), str(change.get("old", "")).strip()
        if new and new != old and new != self._last_message:
            self._last_message = new
            self.send_message()

    def send_message(self) -> None:
        """Send the typed message to the picked agent; its answer arrives in the background.

        Does nothing while an earlier message is still being answered, or with no
        message or no agent.
        """
        if self.widget is None:
            return
        agent_name, message = self.agent_dropdown.value, self.message_input.value.strip()
        if not message or not agent_name:
            return
        with self._state_lock:
            if self._processing:
                return
            self._processing = True
        self.message_input.value = ""
        self._last_message = ""
        self.conversation_history.append(_entry("You", message, "user"))
        loading = _entry(agent_name, "Thinking...", "loading")
        self.conversation_history.append(loading)
        self.update_conversation_display()
        self.start_loading_animation(loading)
        show = bool(self.communication_display_checkbox.value)
        threading.Thread(target=self._answer, args=(agent_name, message, loading, show),
                         name=f"chat-{agent_name}", daemon=True).start()

    def _answer(self, agent_name: str, message: str, loading: dict[str, str],
                communication_display: bool) -> None:
        """Background thread: ask the agent, then replace the spinner by its answer."""
        try:
            entry = _entry(agent_name, self._reply(agent_name, message, communication_display),
                           "agent")
        except Exception as exc:  # shown in the panel: the notebook must not break
            logger.exception("chat with %s failed", agent_name)
            entry = _entry("System", f"Error talking to {agent_name}: "
                                     f"{type(exc).__name__}: {exc}", "error")
        finally:
            self.stop_loading_animation()
        if loading in self.conversation_history:
            self.conversation_history.remove(loading)
        self.conversation_history.append(entry)
        self.update_conversation_display()
        with self._state_lock:
            self._processing = False

    def _reply(self, agent_name: str, message: str, communication_display: bool = False
               ) -> str:
        """What `agent_name` says and thinks after hearing `message` (TALK and THINK)."""
        agent = self.agents[agent_name]
        actions = agent.listen_and_act(message, return_actions=True,
                                       communication_display=communication_display) or []
        lines = []
        for item in actions:
            action = item.get("action", {}) if isinstance(item, dict) else {}
            kind, content = action.get("type"), action.get("content")
            if kind == "TALK" and content:
                lines.append(f"🗣️ {content}")
            elif kind == "THINK" and content:
                lines.append(f"💭 {content}")
        return "\n\n".join(lines) or f"({agent_name} heard you but said nothing.)"

    def clear_conversation(self, b: Any = None) -> None:
        """Forget the conversation shown (not the agents' memories); not while answering."""
        if not self._processing:
            self.conversation_history = []
            self.update_conversation_display()

    def update_conversation_display(self) -> None:
        """Render `conversation_history` into the panel (text escaped as HTML)."""
        if self.widget is None:
            return
        parts = []
        for entry in self.conversation_history:
            style = _ENTRY_STYLES.get(entry["type"], _ENTRY_STYLES["error"])
            parts.append(
                f"<div style='margin: 5px 0; padding: 8px; border-radius: 10px; {style}'>"
                f"<strong>{html.escape(entry['sender'])} ({entry['timestamp']}):</strong>"
                f"<div style='white-space: pre-wrap; margin-top: 4px;'>"
                f"{html.escape(entry['message'])}</div></div>")
        self.conversation_display.value = _PANEL.format("".join(parts) or _EMPTY)

    # --- spinner ----------------------------------------------------------------------

    def start_loading_animation(self, loading_entry: dict[str, str]) -> None:
        """Animate `loading_entry`'s text until `stop_loading_animation()`."""
        self.loading_animation_active = True
        self.current_loading_frame = 0
        self._animation_stop.clear()

        def animate() -> None:
            while not self._animation_stop.wait(_FRAME_SECONDS):
                frame = self.loading_frames[self.current_loading_frame
                                            % len(self.loading_frames)]
                loading_entry["message"] = f"{frame} Thinking..."
                self.current_loading_frame += 1
                self.update_conversation_display()

        threading.Thread(target=animate, name="chat-spinner", daemon=True).start()

    def stop_loading_animation(self) -> None:
        """Stop the spinner (its thread ends within one frame)."""
        self.loading_animation_active = False
        self._animation_stop.set()


def _entry(sender: str, message: str, kind: str) -> dict[str, str]:
    return {"timestamp": datetime.datetime.now().strftime("%H:%M:%S"), "sender": sender,
            "message": message, "type": kind}


def _import_ipywidgets() -> Any:
    try:
        import ipywidgets
    except ImportError:
        raise ImportError(f"AgentChatJupyterWidget needs ipywidgets: {EXTRA_HINT}") from None
    return ipywidgets
