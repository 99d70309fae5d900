"""The studio's pages, one file per screen (run by the frame's st.navigation)."""
