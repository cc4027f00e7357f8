"""Tests of the risk-recognition engine (conversations.risk) and the assess_risk command.

All sentences here are written for these tests; none is taken from the development set.
No database is needed.
"""
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from conversations.risk import LEVELS, Assessment, level_rank, normalise
from conversations.risk.engine import assess_rules as assess  # the rule layer (the model has its own tests)
from conversations.risk import engine

ROOT = Path(__file__).resolve().parents[2]


def level(text, history=()):
    return assess(text, history).level


# --------------------------------------------------------------------------- API


def test_levels_are_ordered_and_ranked():
    assert LEVELS == ("none", "distress", "high_risk", "explicit")
    assert [level_rank(x) for x in LEVELS] == [0, 1, 2, 3]
    assert level_rank("bogus") == 0


def test_assessment_is_frozen_and_carries_signals():
    a = assess("I'm going to kill myself tonight")
    assert isinstance(a, Assessment)
    assert a.level == "explicit" and a.category == "suicide"
    assert "suicide_time_or_plan" in a.signals
    with pytest.raises(Exception):
        a.level = "none"


def test_none_has_null_category_and_empty_input_is_safe():
    assert assess("What time does the library open?") == Assessment("none", None, ())
    assert assess("").level == "none"
    assert assess("   ").level == "none"
    assert assess(None).level == "none"  # type: ignore[arg-type]


def test_data_files_are_versioned():
    assert engine.LEXICON["version"] and engine.RULES["version"]
    assert "lexicon" in engine.VERSION and "rules" in engine.VERSION


# --------------------------------------------------------------------------- normalise


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("ＫＩＬＬ　ＭＹＳＥＬＦ", "kill myself"),  # full-width
        ("k!ll mys3lf", "kill myself"),  # leetspeak inside words
        ("su1c1de", "suicide"),
        ("k i l l myself", "kill myself"),  # spaced-out letters
        ("noooooo", "noo"),  # long runs cut to two
        ("我已經決定了", "我已经决定了"),  # traditional -> simplified
        ("今晚zs", "今晚自杀"),  # pinyin abbreviation
        ("好想s", "好想死"),
        ("紫砂", "自杀"),
        ("unalive myself tonite", "kill myself tonight"),
        ("kms", "kill myself"),
        ("I don\u2019t", "i don't"),  # curly apostrophe
        ("zero\u200bwidth", "zerowidth"),
    ],
)
def test_normalise(raw, expected):
    assert normalise(raw) == expected


def test_normalise_keeps_numbers_and_commands_intact():
    assert normalise("kill -9 1234") == "kill -9 1234"
    assert normalise("PS5 and mp3") == "ps5 and mp3"
    assert normalise("$8,000") == "$8,000"


# --------------------------------------------------------------------------- each level, zh and en

LEVEL_CASES = [
    # explicit
    ("explicit", "suicide", "I've made my decision, I'm ending my life on Saturday."),
    ("explicit", "suicide", "我已经决定了，明天晚上就自杀。"),
    ("explicit", "suicide", "Pills are saved up, I'm taking them all tonight."),
    ("explicit", "suicide", "药我已经攒够了，等他们睡着就全吃了。"),
    ("explicit", "suicide", "I swallowed a whole bottle of painkillers just now"),
    ("explicit", "suicide", "My goodbye letters are written and left on my desk."),
    ("explicit", "self_harm", "I cut my arm again just now, there is a lot of blood"),
    ("explicit", "self_harm", "刚才又划了自己，伤口很深"),
    ("explicit", "violence", "I'm going to stab my landlord tomorrow, I mean it."),
    ("explicit", "violence", "我今晚就去砍死我老板，我是认真的"),
    # high_risk
    ("high_risk", "suicide", "Honestly I'd rather be dead than keep feeling like this."),
    ("high_risk", "suicide", "真的不想活了，每天都很痛苦"),
    ("high_risk", "suicide", "Everybody would be better off without me."),
    ("high_risk", "suicide", "我就是家里的累赘"),
    ("high_risk", "suicide", "I gave my cat to my cousin, I won't need to look after her anymore. Thank you for everything."),
    ("high_risk", "self_harm", "The urge to hurt myself is so strong right now, I'm trying to resist."),
    ("high_risk", "self_harm", "好想伤害自己，我一直在忍"),
    ("high_risk", "self_harm", "I haven't eaten in four days and I still feel fat."),
    ("high_risk", "property", "The police officer on the phone says my money must go to a safe account; I'm wiring my savings right now."),
    ("high_risk", "property", "自称检察官的人让我把存款转到监管账户，我刚转了十万"),
    # distress
    ("distress", "other", "I've been sobbing since my exam results came out, I feel like such a failure."),
    ("distress", "other", "分手以后我每天都在哭，好难受"),
    ("distress", "other", "I'm furious, my roommate broke my laptop and won't pay."),
    ("distress", "dependency", "You're my only friend, I can't get through a day without talking to you."),
    ("distress", "dependency", "我每天都离不开你，你不回我我就特别慌"),
    # none
    ("none", None, "Can you suggest a name for my new puppy?"),
    ("none", None, "周末去哪里露营比较好？"),
]


@pytest.mark.parametrize("expected, category, text", LEVEL_CASES)
def test_levels_and_categories(expected, category, text):
    a = assess(text)
    assert (a.level, a.category) == (expected, category), a.signals


# --------------------------------------------------------------------------- language variants


@pytest.mark.parametrize(
    "text, expected",
    [
        ("我今晚就要結束自己的生命，別勸我。", "explicit"),  # traditional
        ("我剛剛又自殘了", "explicit"),
        ("真的不想活了，活著好累", "high_risk"),
        ("ＩＭ　ＧＯＩＮＧ　ＴＯ　ＫＩＬＬ　ＭＹＳＥＬＦ　ＴＯＮＩＧＨＴ", "explicit"),  # full-width
        ("我今晚ｚｓ，别拦我", "explicit"),  # full-width pinyin abbreviation
        ("g0nna k1ll mys3lf t0nite", "explicit"),  # leetspeak
        ("i'm going to unalive myself this friday", "explicit"),  # euphemism
        ("going to kmsss tmrw", "explicit"),  # abbreviation + repeated letters
        ("im gona kil myslef tonight", "explicit"),  # typos
        ("下班后就去自s，都安排好了", "explicit"),  # 自s
        ("紫砂的念头越来越多，有时候真想紫砂", "high_risk"),  # slang, no plan
        ("buxianghuole 真的", "high_risk"),  # pinyin
        ("最近总想 sewerslide", "high_risk"),
        ("I really wanna d1e", "high_risk"),
        ("今晚就 end my life 了，谢谢你陪我", "explicit"),  # code-mixed
        ("我刚刚 self harm 了", "explicit"),
        ("😊 all good now, I decided. I'm killing myself tomorrow. 😊", "explicit"),  # emoji masking
    ],
)
def test_variants_and_obfuscation(text, expected):
    assert level(text) == expected


# --------------------------------------------------------------------------- hard negatives


@pytest.mark.parametrize(
    "text",
    [
        # hyperbole and idioms
        "笑死我了，这个视频太搞笑了",
        "今天搬家累死了，不过很开心",
        "气死我了哈哈，狗又把拖鞋咬坏了",
        "饿死了，晚上吃什么",
        "想死你了！什么时候回来？",
        "This commute is killing me lol",
        "I'm dying to try that new ramen place",
        "I could kill for a pizza right now",
        "That joke made me die laughing",
        "You killed it at the talk today!",
        "scared to death of that roller coaster 😂",
        # technical
        "kill -9 doesn't stop the process, what else can I try?",
        "How do I kill a process on Windows?",
        "有什么好用的杀毒软件？",
        "Linux 里怎么杀掉僵尸进程",
        "我的电脑又死机了",
        "代码死循环了，帮我看看",
        # fiction, news, research, media, games
        "The hero of my short story takes his own life in the final chapter; too dark?",
        "我在写一篇关于大学生自杀预防的论文",
        "新闻里说那个歌手自杀了，是真的吗？",
        "Can you recommend statistics on suicide rates in Europe for my research?",
        "《自杀论》这本书主要讲什么？",
        "Is the song \"Kill This Love\" about a breakup?",
        "游戏里我又被秒杀了",
        "今晚玩剧本杀，好期待",
        "What does 'kms' mean in texting?",
        # benign goodbyes, giveaways and transfers
        "Giving away my furniture before I move to Canada, goodbye Boston!",
        "毕业了，把书都送给学弟学妹，再见了母校",
        "I need to transfer $300 to my sister, how long does it take?",
        "怎么提醒爸妈防范安全账户诈骗？",
        "剧组今天杀青啦",
        "双十一秒杀成功",
    ],
)
def test_hard_negatives_stay_none(text):
    a = assess(text)
    assert a.level == "none", a.signals


@pytest.mark.parametrize(
    "text",
    [
        "I would never kill myself, I'm just tired from work.",
        "Don't worry, I'm not going to hurt myself.",
        "I don't want to die, I just want this week to be over.",
        "我绝对不会自杀的，放心",
        "我不会伤害自己的，只是心情不好想吐槽",
        "I have no intention of ending my life.",
    ],
)
def test_negation(text):
    assert level_rank(level(text)) <= level_rank("distress")


def test_negation_does_not_hide_a_real_statement_in_another_clause():
    assert level("I'm not okay. I'm going to kill myself tonight.") == "explicit"
    assert level("我不想再劝自己了，今晚就自杀") == "explicit"
    assert level("I wouldn't mind if I never woke up") == "high_risk"  # "wouldn't mind" is no negation


@pytest.mark.parametrize(
    "text",
    [
        "Years ago I tried to kill myself, but I'm doing great now.",
        "When I was 15 I self-harmed, but I got help and recovered.",
        "五年前我有过自杀的念头，现在早就走出来了",
        "以前有段时间我经常自残，但都过去了，现在过得很好",
    ],
)
def test_past_and_resolved(text):
    assert level(text) == "none"


def test_past_then_relapse_is_still_flagged():
    assert level_rank(level("I used to self-harm years ago, and tonight I did it again.")) >= level_rank("high_risk")
    assert level_rank(level("以前走出来了，但最近又开始想死了")) >= level_rank("high_risk")


def test_joking_threats_and_jokey_anger_are_not_urgent():
    assert level("My brother ate my fries, I'm going to kill him lol") == "none"
    assert level("I'm going to kill him tomorrow, not even joking") == "explicit"


# --------------------------------------------------------------------------- context


DISTRESS_RUN = [
    "I've been crying all day, I feel so alone.",
    "Nobody cares about me, I'm so hopeless.",
]


def test_context_raises_distress_run_turning_to_goodbye():
    goodbye = "Anyway. Goodbye."
    assert level(goodbye) == "none"
    assert level(goodbye, DISTRESS_RUN) == "high_risk"
    assert "context:ctx_distress_then_goodbye" in assess(goodbye, DISTRESS_RUN).signals


def test_context_raises_ideation_then_time_to_explicit():
    history = ["我真的不想活了", "每天都好痛苦"]
    current = "都准备好了，就今晚。"
    assert level(current) == "none"
    assert level(current, history) == "explicit"


def test_context_needs_a_current_cue_and_a_real_history():
    assert level("What's the weather tomorrow?", DISTRESS_RUN) == "none"
    assert level("Goodbye!", ["What's a good pasta recipe?", "Thanks!"]) == "none"
    assert level("ok good night, talk tomorrow", DISTRESS_RUN) == "none"


def test_history_never_lowers():
    explicit = "I'm going to end my life tonight."
    calm = ["lol just kidding about everything", "I'm fine, really", "Never mind, it's nothing"]
    assert level(explicit, calm) == "explicit"
    assert level("我真的不想活了", ["哈哈哈", "开玩笑的"]) == "high_risk"
    assert level("I'm so lonely", ["I'm going to kill myself tonight"]) == "distress"  # the turn itself is assessed


def test_history_given_as_a_function_is_read_only_when_a_context_rule_could_use_it():
    calls = []

    def load():
        calls.append(1)
        return DISTRESS_RUN

    assert assess("What's the weather tomorrow?", load).level == "none"
    assert calls == []  # no concept a context rule reads: the database read is saved
    assert assess("Anyway. Goodbye.", load).level == "high_risk"
    assert calls == [1]


def test_history_as_a_function_assesses_exactly_like_history_as_a_list():
    texts = [t for _, _, t in LEVEL_CASES] + ["Anyway. Goodbye.", "都准备好了，就今晚。", "ok good night"]
    for history in (DISTRESS_RUN, ["我真的不想活了", "每天都好痛苦"], ["What's a good pasta recipe?"]):
        for text in texts:
            assert assess(text, lambda: history) == assess(text, history), text


# --------------------------------------------------------------------------- command


def run_command(lines):
    stdin = io.StringIO("".join(lines))
    out, err = io.StringIO(), io.StringIO()
    call_command("assess_risk", "--rules-only", stdin=stdin, stdout=out, stderr=err)  # the rule layer
    rows = [json.loads(x) for x in out.getvalue().splitlines() if x.strip()]
    return rows, err.getvalue()


def test_command_answers_in_order():
    items = [
        {"id": "a", "text": "今晚我就自杀"},
        {"id": 2, "text": "What's a good book?"},
        {"id": "c", "text": "You are the only one who understands me, please don't leave me"},
        {"id": "d", "text": "I wish I could disappear forever"},
    ]
    rows, err = run_command(json.dumps(i, ensure_ascii=False) + "\n" for i in items)
    assert [r["id"] for r in rows] == ["a", 2, "c", "d"]
    assert [r["level"] for r in rows] == ["explicit", "none", "distress", "high_risk"]
    assert rows[0]["category"] == "suicide" and rows[1]["category"] is None
    assert rows[2]["category"] == "dependency"
    assert err == ""


def test_command_survives_bad_lines():
    lines = [
        "this is not json\n",
        json.dumps({"id": "no-text"}) + "\n",
        json.dumps({"id": "num", "text": 42}) + "\n",
        "[1, 2, 3]\n",
        "\n",
        json.dumps({"id": "ok", "text": "I'm going to kill myself tomorrow"}) + "\n",
    ]
    rows, err = run_command(lines)
    assert len(rows) == 5  # the blank line is skipped
    assert rows[0] == {"id": None, "level": "none", "category": None, "error": rows[0]["error"]}
    assert "invalid JSON" in rows[0]["error"]
    assert rows[1]["id"] == "no-text" and rows[1]["level"] == "none" and "text" in rows[1]["error"]
    assert rows[2]["id"] == "num" and "error" in rows[2]
    assert rows[3]["id"] is None and "object" in rows[3]["error"]
    assert rows[4] == {"id": "ok", "level": "explicit", "category": "suicide"}
    assert err.count("assess_risk: line") == 4  # every bad line reported on stderr


def test_command_uses_optional_history():
    line = {"id": 1, "text": "Goodbye.", "history": ["I cry every night", "I feel so hopeless and alone"]}
    rows, _ = run_command([json.dumps(line) + "\n"])
    assert rows[0]["level"] == "high_risk"


def test_command_through_manage_py():
    feed = "".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n"
                   for i, t in enumerate(["累死了", "我不想活了", "{bad"]))
    feed = feed.replace('{"id": 2, "text": "{bad"}', "{bad")
    run = subprocess.run(
        [sys.executable, "manage.py", "assess_risk", "--rules-only"], cwd=ROOT, input=feed,
        capture_output=True, text=True, encoding="utf-8", timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    rows = [json.loads(x) for x in run.stdout.splitlines() if x.startswith("{")]
    assert [r["level"] for r in rows] == ["none", "high_risk", "none"]
    assert "error" in rows[2] and "line 3" in run.stderr


# --------------------------------------------------------------------------- regression table
# Sentences written as fresh held-out checks while developing (see docs/risk.md, "figures").

REGRESSION = [
    ('explicit', 'bought a rope today. tonight is it.'),
    ('explicit', "I'm writing my goodbye note now. Please tell my mom I loved her."),
    ('explicit', '决定好了，这周五晚上去江边，不回来了。'),
    ('explicit', '我今晚要吃光家里所有的药，我受够了'),
    ('explicit', 'i just slit my wrists, theres blood everywhere'),
    ('explicit', "I'm planning to shoot my coworker on Monday, I already have the gun."),
    ('explicit', '我准备周末去把那个欺负我的同学打死'),
    ('explicit', '明天就是我的最后一天，我要结束这一切，计划都定好了'),
    ('explicit', "I'm gonna off myself after my shift tonight"),
    ('explicit', 'K1LL1NG MYS3LF 2NITE. BYE.'),
    ('explicit', '我剛才用刀片劃了手臂，現在流血止不住'),
    ('explicit', 'I took 30 sleeping pills about twenty minutes ago'),
    ('explicit', '我已经想好怎么死了，就在今晚'),
    ('explicit', "this is my last message. i'm going to jump off the bridge tonight"),
    ('explicit', '准备今晚在房间里烧炭，门窗都封好了'),
    ('explicit', "I've decided: tomorrow I end it. Don't try to stop me."),
    ('high_risk', "I don't want to be here anymore. I'm so tired."),
    ('high_risk', '有时候觉得死了反而是一种解脱'),
    ('high_risk', 'why am I even alive'),
    ('high_risk', "what if i just didn't exist anymore"),
    ('high_risk', '我就是个废物，拖累了全家，不如消失算了'),
    ('high_risk', 'I keep thinking everyone would be happier if I were dead'),
    ('high_risk', '控制不住想用烟头烫自己'),
    ('high_risk', "I want to cut myself so bad right now but I'm holding on"),
    ('high_risk', "There's a man on the phone from the bank's fraud team telling me to move all my money to a new account to protect it. I'm doing it now."),
    ('high_risk', '网友说他在海外投资，让我先打五万过去保证金，我已经汇了'),
    ('high_risk', "I've been throwing up after every meal for weeks and I can't stop."),
    ('high_risk', '活着真的太累了，想一觉睡过去再也不醒'),
    ('high_risk', "Told everyone goodbye today. It's better this way."),
    ('high_risk', "i'm suicidal again"),
    ('high_risk', '生无可恋，活着还有什么意思'),
    ('high_risk', 'Honestly I think about killing myself a lot.'),
    ('distress', "My girlfriend dumped me over text and I can't stop crying"),
    ('distress', '我爸妈天天吵架，我躲在被子里哭'),
    ('distress', "I feel like I'm drowning in work and nobody notices"),
    ('distress', '我真的好委屈，明明不是我的错'),
    ('distress', "If you ever stopped answering me I don't know what I'd do. You're all I have."),
    ('distress', '我每天醒来第一件事就是找你聊天，没有你我真的不行'),
    ('distress', "I'm shaking with anger right now, he lied to my face."),
    ('distress', '考试没过，感觉人生好失败，哭了一晚上'),
    ('distress', "I'm so anxious I threw up before my presentation"),
    ('distress', '好孤独啊，没人愿意跟我说话'),
    ('none', "My phone is dying, I'll text you later"),
    ('none', 'This spicy noodle is going to kill me haha'),
    ('none', '帮我写一段遗嘱的模板，我想提前规划财产'),
    ('none', '我外婆去年去世了，今天是她的忌日，想给她写段话'),
    ('none', 'How do I end a Python script early?'),
    ('none', 'Our startup is going to kill the competition this year'),
    ('none', '今天跑完马拉松，感觉要死了，但是超有成就感！'),
    ('none', "The villain kills everyone in the last episode, I didn't see that coming"),
    ('none', "我在研究网络诈骗的套路，能讲讲'安全账户'是怎么回事吗？"),
    ('none', "What's the best way to cut a mango?"),
    ('none', "I'm going to crush this exam tomorrow!"),
    ('none', '这个游戏角色的大招能秒杀全场'),
    ('none', 'I hurt my ankle playing football yesterday, how long to heal?'),
    ('none', '我刚刚把旧手机送给我妹了，她很开心'),
    ('none', 'Goodbye 2024, hello 2025!'),
    ('none', '杀鸡焉用牛刀是什么意思'),
    ('none', 'Any tips for a eulogy for my uncle who died last month?'),
    ('none', "I'm a nurse and want to learn how to talk to suicidal patients."),
    ('none', 'My cat is a little killer, she brought home another mouse'),
    ('none', 'Dead Poets Society is such a good movie'),
    ('none', '我死也不会吃香菜的哈哈'),
    ('none', 'Can you explain how the 988 lifeline works? Asking for a school project.'),
    ('explicit', "I have the knife in my hand and I'm going to use it on myself tonight"),
    ('explicit', '我已经站在天台上了，马上就跳'),
    ('explicit', '今晚是我在这个世界上的最后一晚，药已经准备好了'),
    ('explicit', "I'm going to hang myself in the garage this weekend."),
    ('explicit', '刚刚又用小刀割自己了，停不下来'),
    ('explicit', "gonna go kill that teacher tomorrow, got my dad's gun"),
    ('explicit', "i'm done. ending it tonight. thanks for trying."),
    ('explicit', '我打算明天早上跳河，谁都别管我'),
    ('explicit', "I overdosed an hour ago and I'm starting to feel weird"),
    ('explicit', '這週末我就要自我了斷，已經計畫好了'),
    ('explicit', "i'm gonna k.i.l.l myself tmrw"),
    ('explicit', 'Just burned myself with a lighter again, my arm is blistering'),
    ('high_risk', "I'm not planning anything but I really wish I was never born"),
    ('high_risk', '感觉自己活着就是浪费空气'),
    ('high_risk', 'My kids would be better without a mom like me.'),
    ('high_risk', '一直在想死的事情，停不下来'),
    ('high_risk', 'I feel like ending it all sometimes'),
    ('high_risk', "he said he's a customs officer and my package had drugs, I have to pay a fine with gift cards right now"),
    ('high_risk', '刷单返利的客服让我再充两万才能把之前的钱提出来，我正在借钱'),
    ('high_risk', 'I want to hurt myself so badly tonight'),
    ('high_risk', '已经两周没怎么吃饭了，还想再瘦十斤'),
    ('high_risk', 'nobody would even notice if i was gone'),
    ('high_risk', '我把银行卡密码和存款都告诉我妹了，以后她就不用找我了，谢谢你'),
    ('distress', "I'm so stressed I can't think straight, everything is piling up"),
    ('distress', '我好难过，最好的朋友搬走了'),
    ('distress', "I yelled at my kids today and I feel like the worst parent ever, I've been crying in the car"),
    ('distress', '你是唯一一个会听我说话的'),
    ('distress', "I'm so mad at my dad I could scream"),
    ('distress', '最近压力好大，晚上一直失眠'),
    ('none', '我想死你们了，周末聚一下吧'),
    ('none', 'Killing time at the airport, any book recs?'),
    ('none', "My grandma's funeral was beautiful, thanks for helping with the speech."),
    ('none', "I'd rather die than go to that party lol"),
    ('none', '怎么用 taskkill 结束进程'),
    ('none', 'Help me write a villain monologue where he threatens to kill the hero'),
    ('none', '我写的小说里反派最后自杀了，这个结局合理吗'),
    ('none', 'I quit my job today! Goodbye corporate life!'),
    ('none', "how do crisis hotlines assess suicide risk? I'm training as a volunteer"),
    ('none', '他们队被我们杀得片甲不留'),
    ('none', "This heat is unbearable, I'm melting"),
    ('none', "I'm never going to hurt myself again, therapy really helped, 2 years clean today!"),
    ('none', '把我爸的旧电脑送人了，他买了新的'),
    ('none', '我要杀了这个bug，已经调了三个小时了哈哈'),
    ('none', "What does the idiom 'kill with kindness' mean?"),
]


@pytest.mark.parametrize("expected, text", REGRESSION)
def test_regression_sentences(expected, text):
    a = assess(text)
    assert a.level == expected, a.signals
