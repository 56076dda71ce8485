"""A real browser on kojiweb: headless Chromium (the system's: no browser download) driven by
Playwright. Logins are real: Kerberos through Chromium's own Negotiate with a ticket in the
browser's credential cache, certificates through Playwright's client certificates."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_boxkoji.accounts import ADMIN
from pytest_boxkoji.errors import BoxKojiError

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright

    from pytest_boxkoji.environment import Environment

NETWORK_CHANGED = "ERR_NETWORK_CHANGED"  # the host's addresses changed: not kojiweb's answer
NETWORK_PATIENCE = 60.0  # seconds of navigations aborted that way before a test fails
ERROR_PAGE = "chrome-error://"  # where Chromium shows a request that failed
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL = (
    "pip install 'pytest-boxkoji[browser]' (Playwright) and a Chromium: "
    "apt-get install chromium (Debian), dnf install chromium (Fedora)"
)


def find_chromium(configured: str | None = None) -> str:
    """The browser to drive: BOXKOJI_BROWSER if set, else the first Chromium on PATH."""
    if configured:
        if not Path(configured).exists() and not shutil.which(configured):
            raise BoxKojiError(f"BOXKOJI_BROWSER={configured!r}: no such program. {INSTALL}")
        return shutil.which(configured) or configured
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise BoxKojiError(f"No Chromium found on PATH (looked for {', '.join(BROWSERS)}). {INSTALL}")


@dataclass
class KojiBrowser:
    """One headless Chromium for the session; a fresh context (cookies, certificate) per test."""

    env: Environment
    base_url: str  # kojiweb's URL as the browser reaches it (straight, or through the proxy)
    origin: str
    playwright: Playwright
    browser: Browser
    ccache: str  # the browser's Kerberos credential cache (FILE:...), the ticket of who logs in
    directory: Path
    context: BrowserContext | None = None
    _page: Page | None = field(default=None, repr=False)

    @classmethod
    def launch(cls, env: Environment, base_url: str) -> KojiBrowser:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            raise BoxKojiError(f"The koji_browser fixture needs Playwright: {INSTALL}") from None
        directory = Path(tempfile.mkdtemp(prefix="boxkoji-browser-"))
        ccache = f"FILE:{directory / 'krb5cc'}"
        origin = re.match(r"https://[^/]+", base_url)
        assert origin is not None
        playwright = sync_playwright().start()
        browser_env: dict[str, str | float | bool] = {
            **os.environ,
            **env.env,
            "KRB5CCNAME": ccache,
            "HOME": str(directory),
        }
        try:
            browser = playwright.chromium.launch(
                executable_path=find_chromium(os.environ.get("BOXKOJI_BROWSER")),
                env=browser_env,
                args=[
                    "--no-sandbox",  # as root (CI, containers) Chromium refuses to start with it
                    # Negotiate (Kerberos) only with the box's own hosts, as a browser would be set up.
                    "--auth-server-allowlist=localhost,127.0.0.1",
                ],
            )
        except Exception:
            playwright.stop()
            raise
        launched = cls(env, base_url, origin.group(0), playwright, browser, ccache, directory)
        launched.warm_up()
        return launched

    def warm_up(self, deadline: float = 15) -> None:
        """Chromium on Linux loads its Kerberos library only once its profile has seen a Negotiate
        challenge: the first one fails, then its network service restarts able to answer. Meet that
        here, with a ticket, until a login succeeds, so that no test sees the first failure."""
        from playwright.sync_api import Error

        self.env.accounts.ticket(ADMIN, self.ccache)
        self.new_context()
        end = time.monotonic() + deadline
        try:
            while True:
                try:
                    response = self._goto("login")
                    answer = str(response.status) if response is not None else "none"
                except Error as exc:  # the restart may cut the navigation short: try again
                    response, answer = None, str(exc).splitlines()[0]
                if response is not None and response.status == 200:
                    return
                if time.monotonic() > end:
                    raise BoxKojiError(
                        f"Chromium did not log in by Kerberos to {self.base_url}/login within "
                        f"{deadline:.0f} s (last answer: {answer})"
                    )
                time.sleep(0.2)
        finally:
            self.close_context()
            Path(self.ccache[len("FILE:") :]).unlink(missing_ok=True)

    @property
    def page(self) -> Page:
        """The current page (a new anonymous one when nothing was opened yet)."""
        if self._page is None:
            self.new_context()
        assert self._page is not None
        return self._page

    def new_context(self, cert: str | None = None) -> Page:
        """Start over: no cookies; with a client certificate (PEM path) when given."""
        self.close_context()
        options: dict[str, Any] = {"ignore_https_errors": True, "base_url": self.base_url + "/"}
        if cert:
            certificate, key = _split_pem(Path(cert), self.directory)
            options["client_certificates"] = [
                {"origin": self.origin, "certPath": str(certificate), "keyPath": str(key)}
            ]
        self.context = self.browser.new_context(**options)
        self._page = self.context.new_page()
        return self._page

    def open(self, path: str = "index") -> Page:
        """Go to a kojiweb page (`taginfo?tagID=3`); fails the test on an HTTP error."""
        response = self._goto(path)
        if response is None or response.status >= 400:
            status = response.status if response else "no response"
            raise AssertionError(f"{self.base_url}/{path}: {status}")
        return self.page

    def follow(self, link: Any) -> Page:
        """Click `link` (a Playwright locator: `page.get_by_role("link", name="logout")`) and wait
        for the page it leads to, going there again when the host's network change aborted it (as
        `open` does); fails the test on an HTTP error."""
        response = self._navigate(lambda: self._click_through(link))
        if response is not None and response.status >= 400:
            raise AssertionError(f"{self.page.url}: {response.status}")
        return self.page

    def _click_through(self, link: Any) -> Any:
        with self.page.expect_navigation() as navigation:
            link.click()
        return navigation.value

    def _goto(self, path: str) -> Any:
        return self._navigate(lambda: self.page.goto(path))

    def _navigate(self, go: Callable[[], Any], patience: float = NETWORK_PATIENCE) -> Any:
        """Chromium aborts its requests when the host's addresses change (ERR_NETWORK_CHANGED: a
        container network made or removed by another session, an xdist worker's): that is no
        answer from kojiweb, so go again, for up to `patience` seconds (on a busy machine another
        session changes the network every few seconds). Where the failure shows depends on the
        moment: in the exception; in the failed request (a redirect's target); or only in the
        page, when Chromium has already shown its error page ("interrupted by another navigation
        to chrome-error://..."), whose request's failure may arrive after the exception. Each is
        looked at before deciding; anything else fails the test, naming what failed. After the
        first attempt, going again is going to the address that failed."""
        from playwright.sync_api import Error

        failures: list[str] = []  # this attempt's navigation requests that failed, and why
        failed_urls: list[str] = []

        def failed(request: Any) -> None:
            if request.is_navigation_request():
                failures.append(f"{request.failure} at {request.url}")
                failed_urls.append(request.url)

        self.page.on("requestfailed", failed)
        end = time.monotonic() + patience
        try:
            while True:
                failures.clear()
                failed_urls.clear()
                try:
                    return go()
                except Error as exc:
                    why, again_may_help = self._why_navigation_failed(exc, failures)
                    if again_may_help and time.monotonic() < end:
                        again = failed_urls[-1] if failed_urls else None
                        if again is not None:
                            go = functools.partial(self.page.goto, again)  # noqa: B023
                        continue
                    if not why:
                        raise
                    raise Error(f"{exc.message} ({why})") from exc
        finally:
            self.page.remove_listener("requestfailed", failed)

    def _why_navigation_failed(self, exc: Exception, failures: list[str]) -> tuple[str, bool]:
        """What the browser says failed (the failed requests, Chromium's own error page), and
        whether going again may help: the network changed, or Chromium showed its error page
        without saying why (the request's failure was not reported: measured under load, the
        page had ERR_NETWORK_CHANGED). Another error (a refused connection...) is an answer."""
        from playwright.sync_api import Error

        if ERROR_PAGE in str(exc):
            with contextlib.suppress(Error):  # the error page's load: the events before it arrive
                self.page.wait_for_load_state("load", timeout=10_000)
        found = [f"failed: {failure}" for failure in failures]
        with contextlib.suppress(Error):
            if self.page.url.startswith(ERROR_PAGE):
                codes = re.findall(r"\bERR_[A-Z_]+", self.page.inner_text("body", timeout=5_000))
                found += [f"Chromium's error page: {code}" for code in dict.fromkeys(codes)]
        if NETWORK_CHANGED in str(exc) and not found:
            found.append(f"failed: net::{NETWORK_CHANGED}")
        why = "; ".join(found)
        unexplained = ERROR_PAGE in str(exc) and not re.search(r"\bERR_", why)
        if unexplained:
            why = "Chromium showed its error page and reported no failed request"
        return why, unexplained or NETWORK_CHANGED in why

    def login(self, user: str, auth: str = "gssapi") -> Page:
        """Log `user` in through kojiweb's own login page, the way a person's browser would."""
        if auth == "gssapi":
            self.env.accounts.ticket(user, self.ccache)
            self.new_context()
        elif auth == "ssl":
            self.new_context(cert=self.env.ensure_user(user, "ssl")["cert"])
        else:
            raise BoxKojiError(
                f"koji_browser.login(auth={auth!r}): kojiweb logs users in by 'gssapi' or 'ssl'"
            )
        return self.open("login")

    def logged_in_user(self) -> str | None:
        """Who the page says is logged in (kojiweb's header), None when nobody is."""
        link = self.page.locator("#loginInfo a[href^='userinfo']")
        return link.inner_text() if link.count() else None

    def save_artifacts(self, directory: Path) -> list[Path]:
        """A screenshot and the HTML of the current page, for a failing test's report."""
        if self._page is None:
            return []
        directory.mkdir(parents=True, exist_ok=True)
        screenshot, html = directory / "screenshot.png", directory / "page.html"
        self._page.screenshot(path=str(screenshot), full_page=True)
        html.write_text(self._page.content())
        return [screenshot, html]

    def close_context(self) -> None:
        if self.context is not None:
            self.context.close()
        self.context, self._page = None, None

    def close(self) -> None:
        self.close_context()
        self.browser.close()
        self.playwright.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def artifacts_directory(item: Any) -> Path:
    """Where a failing browser test's screenshot and HTML go: boxkoji-artifacts/<test> under the
    rootdir (a CI job can collect the directory)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid).strip("_")
    return Path(str(item.config.rootpath)) / "boxkoji-artifacts" / name


def _split_pem(pem: Path, directory: Path) -> tuple[Path, Path]:
    """Playwright wants the certificate and its key in two files; the orch gives one."""
    text = pem.read_text()
    parts = re.findall(r"(-----BEGIN ([A-Z ]+)-----.*?-----END \2-----\n?)", text, re.S)
    certs = "".join(block for block, kind in parts if "CERTIFICATE" in kind)
    keys = "".join(block for block, kind in parts if "KEY" in kind)
    if not certs or not keys:
        raise BoxKojiError(f"{pem}: expected a certificate and its key in PEM")
    certificate, key = directory / f"{pem.stem}.crt", directory / f"{pem.stem}.key"
    certificate.write_text(certs)
    key.write_text(keys)
    key.chmod(0o600)
    return certificate, key
