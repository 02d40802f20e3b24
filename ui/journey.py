"""The thread through the lecture: each page's heading and "What to notice" box (header), the link to
the next step (footer) and, in the sidebar, the GPT part by part with what this page teaches lit up
(diagram). What they say is declared in ui/pages.py; this module only draws it."""
from __future__ import annotations

import streamlit as st

from ui.pages import HOME, LECTURE, PARTS, following, info, number, page_of

BLOCK = ("ln", "attention", "ffwd", "residual")  # one transformer block: drawn together, "× n_layer"
_KEYS = [p.key for p in PARTS]
assert tuple(_KEYS[_KEYS.index(BLOCK[0]):][:len(BLOCK)]) == BLOCK, f"the block must be contiguous in PARTS: {_KEYS}"


def header(page_file: str) -> None:
    """The page's numbered heading, then what its first screen teaches and the lecture chapter it follows."""
    page = info(page_file)
    st.title(page.heading if page is HOME else f"{number(page_file)}. {page.heading}")
    if not page.notice:
        return
    with st.container(border=True, key="journey_notice"):
        st.markdown(f":material/lightbulb: **What to notice.** {page.notice}")
        st.caption(f"Lecture chapter: {page.chapter} (Karpathy, *{LECTURE}*)")


def footer(page_file: str) -> None:
    """A link to the next step (Home: step 1); the last step links back to Home."""
    step = following(page_file)
    st.divider()
    with st.container(horizontal=True, horizontal_alignment="right", key="journey_next"):
        if step is None:
            st.page_link(HOME.path, label="Back to Home", icon=HOME.icon)
        else:
            st.page_link(step.path, label=f"Next: {step.title} →", icon=step.icon)


def diagram(page_file: str) -> None:
    """The GPT from text to softmax in the sidebar, one line per part: the parts this page teaches in the
    primary colour, the others grey, each a link to the page that teaches it (st.page_link keeps the
    session; a raw <a href> would reload the app and lose it)."""
    lit = set(info(page_file).parts)
    with st.sidebar.expander("The GPT, part by part", expanded=True, icon=":material/account_tree:"):
        st.caption("Text in, next character out; lit: taught here.")
        flow = st.container(gap=None)
        block = None
        for part in PARTS:
            if part.key in BLOCK and block is None:
                block = flow.container(border=True, gap=None)
                block.caption("block × n_layer")
            where, on = page_of(part.key), part.key in lit
            (block if part.key in BLOCK else flow).page_link(
                where.path, label=f"**:primary[{part.label}]**" if on else f":gray[{part.label}]",
                icon=":material/radio_button_checked:" if on else ":material/radio_button_unchecked:",
                help=f"Taught on {where.title}")
