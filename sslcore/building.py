"""Building a project's engine in a background thread, so that a long embedding leaves the
studio usable: the page that needs the engine shows the build's progress and time left while
every other page and project keeps working.
"""

from __future__ import annotations

import threading

from .features import features_cached, project_method
from .session import ProjectEngine
from .store import Project


def builds_slowly(project: Project) -> bool:
    """True when the project's features come from a pretrained model and are not cached yet:
    minutes of embedding, worth a background build.

    Examples
    --------
    >>> import tempfile
    >>> from sslcore.demos import create_demo_project
    >>> from sslcore.store import Store
    >>> builds_slowly(create_demo_project(Store(tempfile.mkdtemp()), "tickets", "t"))
    False
    """
    from . import embeddings

    method = project_method(project)
    if not any(embeddings.is_model_method(part) for part in method.split("+")):
        return False
    return not features_cached(project.dataset(), method, project.cache)


class EngineBuild:
    """:meth:`ProjectEngine.build` for one project, run in a daemon thread.

    Attributes
    ----------
    fraction : float
        The last progress reported, 0 to 1.
    message : str
        The last progress message (what is being done, and the time left).
    error : Exception or None
        What stopped the build, if anything did.

    Examples
    --------
    >>> import tempfile
    >>> from sslcore.demos import create_demo_project
    >>> from sslcore.store import Store
    >>> build = EngineBuild(create_demo_project(Store(tempfile.mkdtemp()), "moons", "m")).start()
    >>> build.wait(60).engine.n_items
    1000
    """

    def __init__(self, project: Project):
        self.project = project
        self.fraction = 0.0
        self.message = "Waiting to start"
        self.error: Exception | None = None
        self._result: ProjectEngine | None = None
        self._thread = threading.Thread(
            target=self._run, daemon=True, name=f"build-project-{project.id}"
        )

    def start(self) -> EngineBuild:
        self._thread.start()
        return self

    @property
    def done(self) -> bool:
        return not self._thread.is_alive() and (self._result is not None or self.error is not None)

    def _progress(self, fraction: float, message: str) -> None:
        self.fraction, self.message = min(max(fraction, 0.0), 1.0), message

    def _run(self) -> None:
        try:
            self._result = ProjectEngine.build(self.project, progress=self._progress)
        except Exception as error:  # reported to the page that waits for it
            self.error = error

    def wait(self, timeout: float | None = None) -> ProjectEngine:
        """The built engine once the thread ends (re-raises what stopped the build)."""
        self._thread.join(timeout)
        return self.result()

    def result(self) -> ProjectEngine:
        """The built engine; raises the build's error, or RuntimeError while it still runs."""
        if self.error is not None:
            raise self.error
        if self._result is None:
            raise RuntimeError("the build is still running")
        return self._result
