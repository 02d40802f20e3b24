"""Podium: the router and the frame. Pages live in pages/, one per step of the lecture."""
import streamlit as st

from ui import sidebar, state

st.set_page_config(page_title="Podium: build a GPT", page_icon="🎤", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/speeches.py", title="1. Speeches", icon=":material/record_voice_over:"),
    st.Page("pages/tokens.py", title="2. Tokens", icon=":material/abc:"),
    st.Page("pages/batches.py", title="3. Batches", icon=":material/grid_on:"),
    st.Page("pages/bigram.py", title="4. Bigram", icon=":material/table:"),
    st.Page("pages/trick.py", title="5. The trick", icon=":material/functions:"),
    st.Page("pages/attention.py", title="6. Attention", icon=":material/visibility:"),
    st.Page("pages/train.py", title="7. Train", icon=":material/model_training:"),
    st.Page("pages/generate.py", title="8. Generate", icon=":material/edit_note:"),
    st.Page("pages/compare.py", title="9. Compare", icon=":material/compare_arrows:"),
]

state.configure_torch()
page = st.navigation(PAGES)
sidebar.render()
page.run()
