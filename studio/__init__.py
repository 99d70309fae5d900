"""The studio: the Streamlit frame (app.py), its pages (app_pages/) and shared widgets."""
