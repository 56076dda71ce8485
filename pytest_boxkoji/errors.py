"""One exception tree. Messages say what went wrong, what was checked and how to fix it."""


class BoxKojiError(Exception):
    """Base of every error raised by pytest-boxkoji."""


class MissingProgramError(BoxKojiError):
    """A host program needed by the processes runtime is not installed."""


class KojiSourceError(BoxKojiError):
    """Koji's server code could not be obtained or is not a Koji source tree."""


class KojiSourceUnavailable(KojiSourceError):
    """The default Koji release could not be obtained (offline); tests needing it skip."""


class ServiceStartError(BoxKojiError):
    """A service died or did not become ready before its deadline."""


class ServicesPythonError(BoxKojiError):
    """The Python environment for the services could not be prepared."""


class KerberosError(BoxKojiError):
    """A Kerberos administration command failed."""
