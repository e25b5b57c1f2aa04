"""Drives Chromium through chromedriver (W3C WebDriver over HTTP, standard library only):
sign in, upload a defective file, see its findings, upload a clean file, accept it, see it
queued. A screenshot of each page goes to OUTDIR. Exit 0 when every step saw what it should.

usage: browser.py DRIVER_URL SERVICE_URL TOKEN DEFECTIVE_FILE CLEAN_FILE OUTDIR
"""
import base64
import json
import sys
import time
import urllib.request

DRIVER, SERVICE, TOKEN, DEFECTIVE, CLEAN, OUT = sys.argv[1:7]
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(DRIVER + path, method=method, data=data,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.load(r)["value"]


caps = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
    "binary": "/usr/bin/chromium",
    "args": ["--headless=new", "--no-sandbox", "--window-size=1200,1000"]}}}}
session = "/session/" + call("POST", "/session", caps)["sessionId"]


def go(url):
    call("POST", session + "/url", {"url": SERVICE + url})


def find(css):
    return call("POST", session + "/element", {"using": "css selector", "value": css})[ELEMENT]


def type_into(css, text):
    call("POST", session + "/element/" + find(css) + "/value", {"text": text})


def click(css):
    call("POST", session + "/element/" + find(css) + "/click", {})


def shot(name, expect):
    with open(f"{OUT}/{name}.png", "wb") as f:
        f.write(base64.b64decode(call("GET", session + "/screenshot")))
    source = call("GET", session + "/source")
    if expect not in source:
        raise SystemExit(f"{name}: {expect!r} not on the page")


try:
    go("/")
    shot("1-signin", "Sign in")
    type_into("input[name=token]", TOKEN)
    click("form button")
    shot("2-home", "Files up to")
    type_into("input[type=file]", DEFECTIVE)
    click("form[action='/uploads'] button")
    time.sleep(1)
    shot("3-defective", "cannot be processed")
    go("/")
    type_into("input[type=file]", CLEAN)
    click("form[action='/uploads'] button")
    time.sleep(1)
    shot("4-clean", "Accept for processing")
    click("form[action$='/accept'] button")
    shot("5-accepted", "Queued for processing")
    go("/")
    shot("6-home", "queued for processing")
finally:
    call("DELETE", session)
