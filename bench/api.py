"""The API lists the benchmarks time, each with its bare twin (bench/bare.py).

An endpoint whose URL is not there (its app not installed yet) is left out of the run.
"""

from bench.bare import BARE_LISTS

API_PAGES = []


def api_pages():
    return [page for page in API_PAGES if page.available()]


def register_bare(name):
    def decorate(function):
        BARE_LISTS[name] = function
        return function

    return decorate
