"""The generated Jieba dictionary (nlu/jieba_dict.py) is committed in sync with its sources."""

from __future__ import annotations

from nlu import jieba_dict


def test_userdict_is_in_sync_with_sources() -> None:
    committed = jieba_dict.OUTPUT.read_text(encoding="utf-8")
    assert committed == jieba_dict.generate(), "run: python -m nlu.jieba_dict > " + str(jieba_dict.OUTPUT)


def test_userdict_holds_taxonomy_kb_and_place_words() -> None:
    words = {line.split()[0] for line in jieba_dict.OUTPUT.read_text(encoding="utf-8").splitlines()}
    assert {"井盖", "转人工"} <= words  # hand-written base
    assert {"雨水篦子", "燃气报警器", "维修基金"} <= words  # taxonomy
    assert {"通气点火", "阶梯气价"} <= words  # KB tags
    assert "城东区" in words  # districts
    assert not [w for w in words if w.endswith("了")]


def test_render_skips_duplicates_sentences_and_particles() -> None:
    text = jieba_dict.render(
        "井盖 100 n\n", [("井盖", "n"), ("水表坏了", "n"), ("水龙头一直不出水啊啊", "n"), ("泵站", "n")]
    )
    assert text == "井盖 100 n\n泵站 30 n\n"
