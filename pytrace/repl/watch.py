"""``.watch @m [SECS]``: a map printed in place, refreshed every SECS seconds,
until a key is pressed (Ctrl-C too). A small prompt-toolkit Application
on the REPL's input and output; events keep printing above it."""
from __future__ import annotations

import asyncio
import time


def render(session, name: str, secs: float) -> str:
    """The map as the CLI prints it, under a header line."""
    body = session.render_map(name) or f"{name} is empty\n"
    every = f"{secs:g}s"
    head = f"{name} every {every} at {time.strftime('%H:%M:%S')} (press any key to stop)\n"
    return head + body


async def watch(repl, name: str, secs: float) -> None:
    from prompt_toolkit.application import Application
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.layout import Layout
    from prompt_toolkit.layout.containers import Window
    from prompt_toolkit.layout.controls import FormattedTextControl

    session = repl.session
    text = [render(session, name, secs)]
    kb = KeyBindings()

    @kb.add("<any>")
    @kb.add("c-c")
    def _stop(event):
        event.app.exit()

    app = Application(layout=Layout(Window(FormattedTextControl(lambda: text[0]))),
                      key_bindings=kb, full_screen=False, input=repl.input,
                      output=repl.output, erase_when_done=False)

    async def refresh() -> None:
        while True:
            await asyncio.sleep(secs)
            session.poll()
            text[0] = render(session, name, secs)
            app.invalidate()

    repl.watching = app
    task = asyncio.ensure_future(refresh())
    try:
        await app.run_async()
    finally:
        task.cancel()
        repl.watching = None
