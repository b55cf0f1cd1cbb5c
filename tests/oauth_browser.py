#!/usr/bin/env python3
"""The "browser" for the sign-in tests: `oauth_browser.py URL` follows the authorization
URL (the stand-in answers with a redirect to the loopback listener of `mapishim auth
login`), as a browser would after the user agreed, and records the URLs it visited in the
file named by OAUTH_BROWSER_LOG. With OAUTH_BROWSER_STATE set, it replaces the `state` of
the redirect (an answer to someone else's sign-in)."""

import os
import sys
import urllib.parse
import urllib.request


class Redirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        forged = os.environ.get("OAUTH_BROWSER_STATE")
        if forged:
            parts = urllib.parse.urlsplit(newurl)
            query = dict(urllib.parse.parse_qsl(parts.query))
            query["state"] = forged
            newurl = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
        log(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def log(url):
    path = os.environ.get("OAUTH_BROWSER_LOG")
    if path:
        with open(path, "a") as f:
            f.write(url + "\n")


def main():
    url = sys.argv[1]
    log(url)
    opener = urllib.request.build_opener(Redirects)
    try:
        with opener.open(url, timeout=30) as r:
            r.read()
    except urllib.error.HTTPError as e:
        e.read()


if __name__ == "__main__":
    main()
