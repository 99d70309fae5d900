"""The labeling studio from a checkout: `streamlit run app.py` (or `sslabel app`).

The frame and the pages live in the installed `studio` package (studio/app.py,
studio/app_pages/), so `sslabel app` finds them wherever sslabel is installed.
"""

from studio.app import main

main()
