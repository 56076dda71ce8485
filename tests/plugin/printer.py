"""Helpers for the plugin's own pytester tests."""


def config_printer(pytester, monkeypatch, variables, test_source):
    """`run(*args)`: a pytester run of `test_source` (which prints `CFG <words>`) with `variables`
    unset; returns the printed words."""
    for name in variables:
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(test_show=test_source)

    def run(*args):
        result = pytester.runpytest("-s", "-p", "no:cacheprovider", *args)
        result.assert_outcomes(passed=1)
        (line,) = [line for line in result.outlines if "CFG " in line]
        return line.split("CFG ")[1].split()

    return run
