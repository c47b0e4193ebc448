import os

import requests
from standardwebhooks.webhooks import Webhook

HOLDPOINT = os.environ.get("HOLDPOINT_URL", "http://127.0.0.1:3000")
AUTH = {"Authorization": f"Bearer {os.environ['HOLDPOINT_API_KEY']}"}


def ask_and_wait(request: dict) -> dict:
    """Asks a person and waits for the decision: approved, denied (with a
    reason), expired or cancelled."""
    created = requests.post(f"{HOLDPOINT}/api/v1/approvals", json=request, headers=AUTH, timeout=30)
    if created.status_code != 201:
        raise RuntimeError(f"Holdpoint refused: {created.text}")
    approval = created.json()
    while approval["status"] == "pending":
        waited = requests.get(
            f"{HOLDPOINT}/api/v1/approvals/{approval['id']}/wait",
            params={"timeout": 60}, headers=AUTH, timeout=90,
        )
        waited.raise_for_status()
        approval = waited.json()
    return approval


def verify_webhook(raw_body: bytes, headers: dict) -> dict:
    """In your webhook handler: the event if Holdpoint signed it; raises if
    not (or if it is more than five minutes old)."""
    return Webhook(os.environ["HOLDPOINT_WEBHOOK_SECRET"]).verify(raw_body, headers)
