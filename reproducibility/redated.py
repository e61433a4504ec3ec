#!/usr/bin/env python3
"""Same packages, same bytes on any day: a real profile locked against two states of its suites
that differ only in their `Date` (and signature), built from each lock; the outputs must be the
same bytes (README, "The epoch"; reproducibility/README.md).

Debian re-signs SUITE-updates and SUITE-security every day whether or not a package changed. To
show the effect without waiting for a day, this serves two re-signed copies of the host mirror's
suites on loopback: the same `Release` (so the same `Packages` files, by hash) with the `Date`
moved back by two days (state A) and by one day (state B), clearsigned with a throwaway key.
Everything else (`Packages`, `.deb`s) is passed through from the host mirror unchanged.

Usage (as root, with the host mirror reachable; builds in root mode):
    python3 reproducibility/redated.py [PROFILE] [--debroot PATH]
PROFILE defaults to profiles/minbase.toml. Exits 0 when both builds are the same bytes, 1 when
they differ, 2 when the job cannot run.
"""

import argparse
import email.utils
import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SUITE_RE = re.compile(r"^Suites:\s*(.*)$", re.M)


def host_mirrors():
    """The host's main and security archive URLs, from its apt sources."""
    text = ""
    for path in sorted(pathlib.Path("/etc/apt/sources.list.d").glob("*.sources")):
        text += path.read_text() + "\n"
    uris = re.findall(r"^URIs:\s*(\S+)", text, re.M)
    main = next((u for u in uris if "-security" not in u), None)
    security = next((u for u in uris if "-security" in u), None)
    if main is None:
        sys.exit("redated: no Debian archive in /etc/apt/sources.list.d")
    if security is None:
        security = main.rstrip("/") + "-security"
    return main.rstrip("/"), security.rstrip("/")


def fetch(url):
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def release_of(inrelease):
    """The signed text of a clearsigned InRelease (RFC 4880 dash-escaping undone)."""
    text = inrelease.decode()
    body = text.split("\n\n", 1)[1].split("\n-----BEGIN PGP SIGNATURE-----", 1)[0]
    lines = [line[2:] if line.startswith("- ") else line for line in body.split("\n")]
    return "\n".join(lines) + "\n"


def redate(release, days):
    def shift(match):
        when = email.utils.parsedate_to_datetime(match.group(1))
        earlier = when.timestamp() - days * 86400
        return "Date: " + email.utils.formatdate(earlier, usegmt=True).replace("GMT", "UTC")

    return re.sub(r"^Date: (.*)$", shift, release, count=1, flags=re.M)


def date_of(release):
    return re.search(r"^Date: (.*)$", release, re.M).group(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("profile", nargs="?", default="profiles/minbase.toml")
    parser.add_argument("--debroot", default="target/release/debroot")
    args = parser.parse_args()
    profile = pathlib.Path(args.profile).resolve()
    debroot = str(pathlib.Path(args.debroot).resolve())
    if not os.access(debroot, os.X_OK):
        sys.exit(f"redated: no debroot at {debroot} (cargo build --release)")
    suite = re.search(r'^suite\s*=\s*"([^"]+)"', profile.read_text(), re.M)
    if suite is None:
        sys.exit(f"redated: {profile} sets no source.suite (a profile that extends another: "
                 "give the base)")
    suite = suite.group(1)
    main_url, security_url = host_mirrors()
    work = pathlib.Path(tempfile.mkdtemp(prefix="debroot-redated-"))
    try:
        return run(work, profile, debroot, suite, main_url, security_url)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(work, profile, debroot, suite, main_url, security_url):
    gnupg = work / "gnupg"
    gnupg.mkdir(mode=0o700)
    gpg = ["gpg", "--homedir", str(gnupg), "--batch", "--quiet", "--pinentry-mode", "loopback",
           "--passphrase", ""]
    subprocess.run(gpg + ["--quick-gen-key", "debroot redated job <redated@test.invalid>",
                          "ed25519", "sign", "never"], check=True)
    (work / "key.gpg").write_bytes(
        subprocess.run(gpg + ["--export"], check=True, capture_output=True).stdout)

    # The suites of the profile as the host mirror serves them now.
    suites = {suite: main_url, f"{suite}-updates": main_url, f"{suite}-security": security_url}
    states = {}
    for name, days in (("a", 2), ("b", 1)):
        for suite_name, base in suites.items():
            release = redate(release_of(fetch(f"{base}/dists/{suite_name}/InRelease")), days)
            signed = subprocess.run(gpg + ["--clearsign", "--digest-algo", "SHA512"],
                                    input=release.encode(), check=True,
                                    capture_output=True).stdout
            archive = "debian-security" if suite_name.endswith("-security") else "debian"
            states[f"/{name}/{archive}/dists/{suite_name}/InRelease"] = (signed, date_of(release))

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_):
            pass

        def do_GET(self):
            if self.path in states:
                body = states[self.path][0]
            else:
                parts = self.path.split("/", 3)
                if len(parts) < 4 or parts[1] not in ("a", "b") or \
                        parts[2] not in ("debian", "debian-security") or \
                        parts[3].endswith("Release") or parts[3].endswith("Release.gpg"):
                    self.send_error(404)
                    return
                upstream = main_url if parts[2] == "debian" else security_url
                try:
                    body = fetch(f"{upstream}/{parts[3]}")
                except urllib.error.HTTPError as error:
                    self.send_error(error.code)
                    return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        return compare(work, profile, debroot, port, states)
    finally:
        server.shutdown()


def compare(work, profile, debroot, port, states):
    (work / "p.toml").write_text(
        f'extends = "{profile}"\n\n[source]\nkeyring = "key.gpg"\n')
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}

    def debroot_run(*arguments, state, capture=False):
        command = [debroot, *arguments, "--mirror", f"http://127.0.0.1:{port}/{state}/debian/"]
        print("+ debroot " + " ".join(arguments) + f"   # suites of state {state}", flush=True)
        return subprocess.run(command, cwd=work, env=env, check=not capture,
                              capture_output=capture, text=True)

    for path, (_, date) in sorted(states.items()):
        print(f"state {path.split('/')[1]}: {path.split('/')[4]} dated {date}")
    digests = {}
    locks = {}
    for state in ("a", "b"):
        if state == "b":
            check = debroot_run("lock", "p.toml", "--check", "--update", "--format", "json",
                                state=state, capture=True)
            sys.stderr.write(check.stderr)
            print("lock --check:", check.stdout.strip().replace("\n", " "))
            if json.loads(check.stdout).get("packages_changed") is not False:
                print("redated: the packages differ between the two states: nothing to compare")
                return 2
        debroot_run("lock", "p.toml", "--update", state=state)
        locks[state] = (work / "p.lock").read_text()
        output = work / f"{state}.tar"
        debroot_run("build", "p.toml", "-o", str(output), "--quiet", state=state)
        digests[state] = hashlib.sha256(output.read_bytes()).hexdigest()
        output.unlink()

    def lines(lock, prefix):
        return [line for line in lock.splitlines() if line.startswith(prefix)]

    print("epoch of lock A:", " ".join(lines(locks["a"], "epoch")))
    print("epoch of lock B:", " ".join(lines(locks["b"], "epoch")))
    print("suite dates of lock A:", " ".join(lines(locks["a"], "date")))
    print("suite dates of lock B:", " ".join(lines(locks["b"], "date")))
    print(f"output A sha256:{digests['a']}")
    print(f"output B sha256:{digests['b']}")
    if digests["a"] != digests["b"]:
        print("redated: NOT the same bytes")
        return 1
    print("redated: same packages, other suite dates: the same bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
