"""The dashboard in a real browser: Debian's headless Chromium (selenium) loads each view
against a replayed stream (worker, API, sidecar on the real servers) and checks that
every chart holds data. With STREAMREC_SCREENSHOTS=DIR it saves a PNG of each view."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from streamrec.app.api.context import ApiContext
from streamrec.app.api.history import Sampler
from streamrec.app.sidecar import MetricsSidecar
from streamrec.core.experiments import Arm, Experiment
from streamrec.serving.schema import RedisKeys
from streamrec.serving.store import connect
from tests.conftest import replace
from tests.integration.api_server import replay_sessions, seed, serving, small_stream

pytestmark = pytest.mark.integration
USERS = 48


def chromium() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,1000"):
        options.add_argument(flag)
    service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(options=options, service=service)  # the system driver, no download


def points(driver: webdriver.Chrome, selector: str) -> list[int]:
    return [
        int(e.get_attribute("data-points") or 0)
        for e in driver.find_elements(By.CSS_SELECTOR, selector)
    ]


def shown_user(driver: webdriver.Chrome) -> str | None:
    return driver.find_element(By.ID, "user-result").get_attribute("data-user")


def unexplain(settings, user_id: str) -> dict:
    """Drop the per-item ``why`` from a stored list, as a worker without explanations (or
    with ``STREAMREC_EXPLAIN_TOP=0``) writes it; returns the explanations it had."""
    client, key = connect(settings), RedisKeys(settings.redis_prefix).user_recs(user_id)
    stored = json.loads(client.get(key))
    whys = {item["item_id"]: item.pop("why", None) for item in stored["items"]}
    client.set(key, json.dumps(stored))
    return whys


def test_every_view_draws_its_data(settings) -> None:
    experiment = Experiment(
        name="ab",
        arms=[
            Arm(name="trending", strategy="trending"),
            Arm(name="in-cluster", strategy="cluster"),
        ],
    )
    configured = replace(settings, experiments=[experiment.model_dump()])
    events = small_stream(n_users=USERS, per_user=3, noise=True)
    half = len(events) // 2
    seed(configured, events[:half])
    ctx = ApiContext.from_settings(configured)
    ctx.sampler = Sampler(min_interval_s=0.2)
    shots = os.environ.get("STREAMREC_SCREENSHOTS")
    driver = chromium()
    try:
        with serving(configured, ctx) as url:
            # the worker processes the second half while the overview samples: events/s > 0
            httpx.get(f"{url}/v1/dashboard/overview").raise_for_status()
            seed(configured, events[half:])
            rates = httpx.get(f"{url}/v1/dashboard/overview").json()["series"]
            assert max(s["events_per_s"] for s in rates) > 0
            for round_ in range(3):  # scored rounds: the strategy charts get a time axis
                replay_sessions(url, USERS, rounds=1, seed_=round_)
                MetricsSidecar(configured).run(until_caught_up=True)
                for view in ("overview", "clusters", "strategies"):
                    httpx.get(f"{url}/v1/dashboard/{view}").raise_for_status()
            wait = WebDriverWait(driver, 20)
            views = {
                "overview": "#c-rate, #c-lag, #c-fresh",
                "clusters": "#c-map, #c-sizes",
                "strategies": "#experiment-charts .chart",
                "user/u0": "#user-result",
            }
            for view, charts in views.items():
                driver.get(f"{url}/#{view}")
                wait.until(lambda d, c=charts: points(d, c) and all(n > 0 for n in points(d, c)))
                if shots:
                    Path(shots).mkdir(parents=True, exist_ok=True)
                    driver.execute_script("window.scrollTo(0, 0)")
                    driver.save_screenshot(str(Path(shots) / f"dashboard-{view.split('/')[0]}.png"))
            driver.get(f"{url}/#clusters")
            wait.until(lambda d: "born" in d.find_element(By.ID, "lifecycle-table").text)
            # strategies: the built-in comparison and the experiment, each with two charts
            driver.get(f"{url}/#strategies")
            wait.until(lambda d: len(points(d, "#experiment-charts .chart")) == 4)
            assert driver.find_elements(By.CSS_SELECTOR, "#experiment-charts polygon.band")
            assert "ndcg@10" in driver.find_element(By.ID, "rolling-table").text  # sidecar windows
            # the worker explains user lists: each item's "why" ({feature: contribution})
            driver.get(f"{url}/#user/u1")
            wait.until(lambda d: shown_user(d) == "u1")
            why = driver.find_element(By.CSS_SELECTOR, "#user-items td.why").text
            first = httpx.get(f"{url}/v1/users/u1").json()["items"][0]
            assert first["why"] and all(feature in why for feature in first["why"])
            if shots:
                driver.save_screenshot(str(Path(shots) / "dashboard-user.png"))
            # a list without explanations: no "why" column, the rest as before
            assert any(unexplain(configured, "u0").values())
            driver.get(f"{url}/#user/u0")
            wait.until(lambda d: shown_user(d) == "u0")
            assert driver.find_elements(By.CSS_SELECTOR, "#user-similar td")
            assert driver.find_element(By.CSS_SELECTOR, "#user-level b").text == "user"
            assert not driver.find_elements(By.CSS_SELECTOR, "#user-items td.why")
    finally:
        driver.quit()
        ctx.close()
