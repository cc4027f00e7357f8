"""6. The risk engine's share of a message request: the time inside conversations.risk.assess
against the whole request through Django (middleware, DRF, the transaction), in one process.

Texts are benign and risky in English and Chinese, each message with its conversation's last ten
user messages as context (as in production); every text is unique, so the engine's cache of
normalised texts does not flatter it."""
from . import common

CODE = r"""
import random, tempfile
from django.core.management import call_command
from django.test import Client
call_command("migrate", verbosity=0)
from django.conf import settings
settings.CHANNEL_LAYERS = {{"default": {{"BACKEND": "channels.layers.InMemoryChannelLayer"}}}}  # no Redis here
from escalation.celery import app
app.conf.broker_url = "memory://"
from conversations import services
from conversations.models import ApiKey, Product
product = Product.objects.create(name="risk-bench")
key = ApiKey.issue(product)[1]
spent = [0.0]
real = services.assess
def timed(*args, **kwargs):
    t = time.perf_counter()
    try:
        return real(*args, **kwargs)
    finally:
        spent[0] += time.perf_counter() - t
services.assess = timed
texts = {texts!r}
client = Client(HTTP_AUTHORIZATION=f"Bearer {{key}}")
def post(i):
    conv = f"c-{{i % 50}}"
    body = json.dumps({{"id": f"m-{{i}}", "user": f"u-{{i % 50}}", "role": "user", "text": f"{{texts[i % len(texts)]}} ({{i}})"}})
    return client.post(f"/api/v1/conversations/{{conv}}/messages", body, content_type="application/json")
for i in range(300):
    post(i)
spent[0] = 0.0
n = {n}
t = time.perf_counter()
for i in range(300, 300 + n):
    assert post(i).status_code == 201
total = time.perf_counter() - t
print(json.dumps({{"share": spent[0] / total, "engine_ms": spent[0] / n * 1000, "request_ms": total / n * 1000}}))
"""
TEXTS = common.BENIGN_TEXTS + [
    "I feel so alone lately, nobody talks to me anymore.",
    "Sometimes I think everyone would be better off without me.",
    "我最近压力好大，晚上总是睡不着。",
    "活着真没意思，我想消失。",
    "I have been cutting myself again.",
    "You are my only friend, I can't live without talking to you.",
]


def run(quick=False, repeat=3):
    import tempfile
    import shutil

    shares, engine, request = [], [], []
    for _ in range(1 if quick else repeat):
        var_dir = tempfile.mkdtemp(prefix="bench-risk-")
        try:
            out = common.django_script(var_dir, CODE.format(texts=TEXTS, n=300 if quick else 1500))
        finally:
            shutil.rmtree(var_dir, ignore_errors=True)
        shares.append(out["share"] * 100)
        engine.append(out["engine_ms"])
        request.append(out["request_ms"])
        common.log(f"engine {out['engine_ms']:.2f} ms of {out['request_ms']:.2f} ms per request ({out['share']:.1%})")
    return (f"risk-share: the engine takes {common.spread(shares, '{:.1f}')}% of a message request "
            f"({common.spread(engine, '{:.2f}')} ms of {common.spread(request, '{:.2f}')} ms, in-process through "
            f"Django, 10 messages of context, mixed benign and risky texts)")
