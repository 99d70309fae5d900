"""Sign-in and roles in the studio (sslcore.accounts holds the accounts themselves).

When the store has no account the studio is open, and whoever reaches it acts as
the owner: that is the local, one-machine case (``sslabel app`` refuses to listen
beyond 127.0.0.1 then, unless told to). As soon as one account exists, every
browser session signs in first, labels under its account's name, and sees only
the pages its role allows.
"""

from __future__ import annotations

import streamlit as st

from sslcore.accounts import Accounts
from sslcore.accounts import may as role_may
from sslcore.store import Store
from studio.components import md

SIGNED_IN_KEY = "signed-in"  # (name, role) of this browser session's account
ANNOTATOR_KEY = "annotator"  # studio.state's key: the signed-in name is the annotator

PAGE_ROLES = {
    "projects.py": "owner",
    "review.py": "reviewer",
    "export.py": "reviewer",
}
"""The least role a page needs; the others need an annotator."""


def _sign_in_required(store: Store) -> bool:
    return Accounts(store).exist()


def require_sign_in(store: Store) -> None:
    """Draw the sign-in form and stop, unless the studio is open or this session signed in."""
    if not _sign_in_required(store):
        st.session_state.pop(SIGNED_IN_KEY, None)
        return
    if SIGNED_IN_KEY in st.session_state:
        st.session_state[ANNOTATOR_KEY] = st.session_state[SIGNED_IN_KEY][0]
        return
    st.title("Sign in")
    with st.form("sign-in"):
        name = st.text_input("Name", max_chars=80)
        password = st.text_input("Password", type="password")
        if st.form_submit_button("Sign in", type="primary"):
            role = Accounts(store).sign_in(name, password)
            if role is None:
                st.error("Wrong name or password.")
            else:
                st.session_state[SIGNED_IN_KEY] = (name.strip(), role)
                st.session_state[ANNOTATOR_KEY] = name.strip()
                st.rerun()
    st.stop()


def signed_in() -> bool:
    return SIGNED_IN_KEY in st.session_state


def role() -> str:
    """This session's role: its account's, or "owner" when the studio has no accounts."""
    return st.session_state[SIGNED_IN_KEY][1] if signed_in() else "owner"


def may(needed: str) -> bool:
    """Whether this session may do what ``needed`` (a role) may."""
    return role_may(role(), needed)


def page_allowed(file_name: str) -> bool:
    """Whether this session's role may open the page in ``file_name`` (e.g. "review.py")."""
    return may(PAGE_ROLES.get(file_name, "annotator"))


def sign_out_button() -> None:
    """A sidebar button that ends this session's sign-in (drawn only when signed in)."""
    if signed_in():
        name, account_role = st.session_state[SIGNED_IN_KEY]
        st.sidebar.caption(f"Signed in as {md(name)} ({account_role})")
        if st.sidebar.button("Sign out", key="sign-out"):
            st.session_state.pop(SIGNED_IN_KEY, None)
            st.session_state.pop(ANNOTATOR_KEY, None)
            st.rerun()
