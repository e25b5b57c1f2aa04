"""Drives Chromium through chromedriver (W3C WebDriver over HTTP, standard library only):
sign in, upload a defective file, read its grouped findings and their cause, upload a clean
file, accept it, see it queued; then, in a browser asking for French (Accept-Language), sign in
and read the country's page and the defective upload's report in French. A screenshot of each
page goes to OUTDIR. Exit 0 when every step saw what it should.

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


def start(lang):
    options = {"binary": "/usr/bin/chromium",
               "args": ["--headless=new", "--no-sandbox", "--window-size=1200,1000",
                        "--lang=" + lang],
               "prefs": {"intl.accept_languages": lang}}
    caps = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}}
    return "/session/" + call("POST", "/session", caps)["sessionId"]


session = start("en-GB")


def go(url):
    call("POST", session + "/url", {"url": SERVICE + url})


def find(css):
    return call("POST", session + "/element", {"using": "css selector", "value": css})[ELEMENT]


def type_into(css, text):
    call("POST", session + "/element/" + find(css) + "/value", {"text": text})


def click(css):
    call("POST", session + "/element/" + find(css) + "/click", {})


def shot(name, *expect):
    with open(f"{OUT}/{name}.png", "wb") as f:
        f.write(base64.b64decode(call("GET", session + "/screenshot")))
    source = call("GET", session + "/source")
    for e in expect:
        if e not in source:
            raise SystemExit(f"{name}: {e!r} not on the page")


def here():
    return call("GET", session + "/url")


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
    report = here().split("127.0.0.1", 1)[1].split("/", 1)[1]
    report = "/" + report + "/report.html"
    go(report)
    # One group for the recoded column: its count, lines, values and the cause named once.
    shot("3b-findings", "unknown_code</code></b> — ", "findings · column SEX · lines",
         "Cause:</b>", "codes not in the pipeline", "Audit")
    go("/")
    type_into("input[type=file]", CLEAN)
    click("form[action='/uploads'] button")
    time.sleep(1)
    shot("4-clean", "Accept for processing")
    click("form[action$='/accept'] button")
    shot("5-accepted", "Queued for processing")
    go("/")
    shot("6-home", "queued for processing")
    call("DELETE", session)
    session = start("fr-FR")
    go("/")
    shot("7-signin-fr", "Connexion", "Jeton")
    type_into("input[name=token]", TOKEN)
    click("form button")
    shot("8-home-fr", "Fichiers jusqu", "Vos dépôts", "en attente de traitement")
    go(report)
    shot("9-findings-fr", "constats · colonne SEX", "Cause&nbsp;:</b>",
         "absents de la table des codes", "Règles appliquées")
finally:
    call("DELETE", session)
