"""Chinese address extraction by a component grammar: pure Python + jieba, no Rasa import.

An address is a chain of adjacent *components* (one space allowed between them, as speech recognition puts it):

- named components, a name followed by a suffix: province/city/district (省/市/自治区/区/县/旗), town (镇/乡/街道),
  village (村/社区/居委会), road (路/街/大道/大街/巷/胡同/弄/里, 一路/北路, 东段), compound (小区/花园/苑/大厦/...);
- numbered components: house number (12号, 8号院, 123弄), phase (2期), building (3栋/幢/号楼/座, A座, 东区), unit
  (2单元), floor (5层/5楼), room (302室/302房, or bare digits right after a unit/floor/building), group (3组);
- junctions: road + (与/和/跟/及) + road + 交叉口/十字(路口)/交口/路口/口 (+ a corner: 东北角); one road or a place
  word with an explicit crossing word (人民路交口, 小寨十字东南角);
- right after an administrative component, the next administrative level or town without part-of-speech
  evidence (杭州市 + 上/f 城区/n), and developers' brands before a compound (碧桂园天玺湾).

A chain is an address when it has an *anchor* (a road, a compound, a village or town, a junction, or a building
with a unit). Its value is the chain's text without whitespace and punctuation (dashes between digits kept:
3-2-501). Full-width digits and letters are read as ASCII; a second reading with the spaces before stand-alone
suffixes squeezed out (ASR: 钱江 路 1381 号) wins when it covers more address text.

The left boundary of a name is the hard part: the name is grown leftwards over jieba tokens (``jieba.posseg`` with
the project's dictionary in ``data/jieba``). The token right before the suffix may be almost anything (roads are
named 胜利/解放/幸福: verbs and adjectives) but not a pronoun, preposition, conjunction, particle, adverb, measure
word or stop word; tokens further left must look like names (ns/nz/nr/nt/j/n...). So in 本人发现新华区长江路上 the
name stops at 发现 (a verb), in 我们这边胜利路 at 这边 (a pronoun).

The Rasa component ``components.address_extractor.AddressExtractor`` wraps :func:`find_addresses`; the intent and
industry classifiers call it at training time to mask address spans exactly as at run time. It lives under
``components/`` (the only directory besides ``nlu/rasa_project`` on the Rasa process's PYTHONPATH, and part of
the model's training hash); hub-side tests import it by path.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

DEFAULT_DICTIONARY_DIR = Path(__file__).resolve().parent.parent / "data" / "jieba"


def _words(text: str) -> list[str]:
    return text.split()


# Words that never start or continue a name (pronouns, fillers, reporting verbs, generic places ...).
_STOP_CHARS = frozenset(
    "我你他她它们的了在住是到于从往与及那这个就说请帮条过有没还也把被给让啊吧呢吗嗯喂址跟系但各并坐几某"
)
_STOP_WORDS = frozenset(
    _words(
        "楼下 门口 附近 旁边 对面 地址 位置 电话 号码 小区 路口 路灯 马路 本人 一半 十字 一下"
        " 下雨 这边 那边 东边 西边 南边 北边 左边 右边 里边 外边 沿街 步行 老旧 特色 影响 造成"
        " 游览 打造 结合 部分 几路 发现 位于 地处 路过 经过 靠近 清理 反映 举报 投诉 表扬 感谢"
        " 建议 目前 很多 新建 整栋 所有 每个 一些 家住 居住 住址 就是 那个 这个 业主 居民 师傅"
        " 城管 物业 公司 市民 我家 咱们 整个 全部 周边 周围 一带 一直 现在 已经 还是 然后 今天"
        " 昨天 明天 前天 后天 晚上 早上 上午 下午 中午 半夜 凌晨 刚才 最近 当时 平时 以前 以后"
        " 每天 天天 之前 之后 十字 高速 商业 小吃 美食 居民 住宅 风景 开发 工业 城中 老城 新农"
        " 农贸 菜市 集贸 批发 停车 施工 近期 近日 日前 近来 如今 当前 长期 前期 后期 平常 同时 市中心 私家"
    )
)
_STOP_PREFIX = re.compile("|".join(sorted(_STOP_WORDS, key=len, reverse=True)))
# Part-of-speech tags (jieba/ICTCLAS) that never belong to a name: pronouns, prepositions, conjunctions, particles,
# adverbs, measure words, interjections, onomatopoeia, modal particles, time words, punctuation.
_BAD_FLAGS = frozenset(_words("r rr rz rzt rzs rzv ry ryt rys ryv p c cc u uj ul uz ug uv ud y e o d dg q qv qt w zg"))
# Tags that may continue a name further left than the token right before the suffix (not verbs: 发现, 清理 ...).
_NAME_FLAGS = frozenset(_words("n ns nz nr nrfg nrt nt nsf ng g j eng x l i a an b s f"))
# A token holding the suffix and characters before it ("东湖路", "新华区") is a name only if tagged as one.
_PLACE_FLAGS = frozenset(_words("ns nz nr nrfg nrt nt j x eng"))

_CN_DIGITS = "一二三四五六七八九十百零两〇"
_NUM = rf"(?:(?<![0-9A-Za-z])[0-9]{{1,5}}(?![0-9])|(?<![{_CN_DIGITS}])[{_CN_DIGITS}]{{1,6}})"
_SPACE = " \t\u3000"
_PUNCT = ",.;:!?，。；：！？、()（）\"'“”‘’《》【】[]<>-—~·…/"

# Named components: (kind, suffix regex, risky). A risky suffix (城, 园, 府 ...) is an address only with a number or
# building right after it, or when the whole word is a place in the project's jieba dictionary.
_NAMED: tuple[tuple[str, str, bool], ...] = (
    ("village", r"居委会|社区|村委会|村(?![民里子庄口])", False),
    ("town", r"街道(?:办事处)?(?![上边旁里口两])|镇(?![上里压痛])|乡(?![下村亲镇])", False),
    ("admin", r"自治区|自治州|自治县|省|市(?![场民区里内民政容])|区(?![域别])|县(?![城里])|旗", False),
    (
        "road",
        r"(?:[一二三四五六七八九十]路|[东西南北中]路|大道|大街|(?<!路)路(?![面灯线况站费标牌障基段])|街(?![道区坊头景巷灯])"
        r"|巷(?![子道])|胡同)(?:[东西南北中一二三四五六七八九十]段)?",
        False,
    ),
    ("road", r"弄(?=\s?[0-9一二三四五六七八九十])|里(?=\s?[0-9一二三四五六七八九十]+[号弄栋幢])", True),
    (
        "compound",
        r"小区|花园|家园|新村|公寓|大厦|华庭|华府|公馆|山庄|名都|名苑|雅居|雅苑|庭院|广场(?![站舞])|苑(?![区])",
        False,
    ),
    (
        "compound",
        r"家属院|宿舍|大楼|中心|府|湾|城(?![区市管])|庭|居|(?<![公儿物乐])园|坊|(?<![医学法剧影书寺道戏检])院|国际|花都|郡|邸|墅|天地|公元|时代",
        True,
    ),
    ("village", r"庄|屯|寨|堡|营", True),  # 王家庄3组
    ("road", r"道(?=\s?[0-9一二三四五六七八九十]+\s?号)", True),  # 成都道88号
)
_NAMED_RE = tuple((kind, re.compile(pattern), risky) for kind, pattern, risky in _NAMED)
# Every character a suffix can start with (a superset: all CJK characters of the suffixes outside lookarounds).
_SUFFIX_FIRST = frozenset(
    c for _, pattern, _ in _NAMED for c in re.sub(r"\(\?<?[=!][^)]*\)", "", pattern) if "\u4e00" <= c <= "\u9fff"
)
# Numbered components, found anywhere; kept only inside a chain with an anchor.
_NUMBERED: tuple[tuple[str, str], ...] = (
    ("house", rf"(?<![月第])[甲乙丙丁]?{_NUM}\s?(?:号院(?![内里])|号(?![线码房机]|楼(?![道梯]))|支弄|弄|巷)"),
    ("house", r"(?<![0-9-])[0-9]{1,5}\s?[-~至到]\s?[0-9]{1,5}\s?号(?![线码房机楼])"),  # 12-18号
    ("annex", rf"附\s?{_NUM}\s?号(?![线码房机楼])"),  # 12号附3号
    ("phase", rf"第?{_NUM}\s?期"),
    (
        "building",
        rf"(?:第?{_NUM}\s?(?:栋|幢|号楼(?![道梯])|座|#楼?)|(?<![A-Za-z0-9])[A-Za-z][0-9]{{0,2}}(?:栋|幢|座|区|号楼|塔))",
    ),
    ("dashed", r"(?<![0-9A-Za-z-])[0-9]{1,3}(?:-[0-9]{1,4}){1,2}(?![0-9-])"),  # 3-2-501: building-unit-room
    (
        "zone",
        rf"(?:[东西南北中]区|(?<![A-Za-z0-9])[0-9]{{1,2}}区|(?<![{_CN_DIGITS}])[一二三四五六七八九十]区)(?![域别])",
    ),
    ("unit", rf"第?{_NUM}\s?(?:单元|门(?![口前外内面诊票窗卫]))"),  # 3门: a Beijing entrance
    ("floor", rf"{_NUM}\s?(?:层|楼)(?![下上道梯顶房])"),
    ("room", rf"{_NUM}\s?(?:室|号房|房(?![子屋间东租价])|户)|(?<=[层楼])[东西南北中]户"),  # 四楼东户
    ("bare", r"(?<![0-9A-Za-z])[0-9]{3,4}(?![0-9A-Za-z])"),
    ("bare", rf"(?<![{_CN_DIGITS}])[一二三四五六七八九零〇]{{3,4}}(?![{_CN_DIGITS}])"),  # 六零一
    ("group", rf"第?{_NUM}\s?(?:村民小组|小组|组|社(?![区会])|队(?![员长伍]))"),  # 3社, 二队
)
_NUMBERED_RE = tuple((kind, re.compile(pattern)) for kind, pattern in _NUMBERED)
_ANCHORS = frozenset({"road", "compound", "village", "town", "junction", "crossing"})
_AFTER_RISKY = re.compile(
    rf"\s?(?:{_NUM}\s?(?:号|栋|幢|号楼|座|期|单元|区|弄|组|#)|[A-Za-z][栋幢座区]|[东西南北中]区|[0-9]{{1,3}}-[0-9])"
)
_CONNECTOR = re.compile(r"\s?(?:(?:与|和|跟|及|、|同)\s?)?")  # 新华路中山路交叉口: none at all
_CORNER = r"(?:\s?[东西南北]{1,2}角)?"  # 交叉口东北角
_JUNCTION_END = re.compile(rf"\s?的?(?:交叉口|十字路口|十字|交汇处|交口|路口|口(?![子罩]))(?:{_CORNER})")
# One road or a place name with an explicit crossing word: 西津西路十字东南角, 人民路交口, 小寨十字
_CROSSING_END = re.compile(rf"\s?(?:交叉口|十字路口|十字|交汇处|交口)(?:{_CORNER})")
# Common nouns ending in a suffix character: never a place name on their own.
_GENERIC = frozenset(
    _words(
        "线路 道路 马路 公路 铁路 水路 小路 大路 山路 网路 电路 思路 一路 走路 修路 迷路 出路"
        " 让路 上路 过路 通路 支路 岔路 近路 景区 城区 市区 郊区 山区 园区 校区 小区 社区 片区"
        " 辖区 禁区 灾区 街区 新区 学区 农村 山村 乡村 城市 都市 超市 夜市 门市 县城 省城 小巷"
        " 街巷 县里 市里 区里 村里 镇里 乡里"
    )
)
_MEASURES = frozenset("条个些种位名块片")  # 整条街, 一个小区
_COMPONENT_ENDS = frozenset("省市区县旗镇乡村路街道巷弄苑厦寓园庄府号栋幢座室元层楼期组")
_DIRECTIONS = frozenset("东西南北中")
_FUNCTION_CHARS = frozenset("到了的在是把被给让吗呢吧啊")  # never inside the word right before a road suffix
_SPACED_ADMIN_FLAGS = frozenset(_words("ns nz nr s j"))
_NAME_BREAKS = frozenset("路街巷道号栋幢座室弄村组园苑厦楼层单元期")
_ADMIN_NEXT = re.compile(
    r"\s?([\u4e00-\u9fff]{2,6}?)(自治区|自治州|自治县|特别行政区|地区|省|市(?![场民里内政容])|州|盟|区(?![域别])"
    r"|县(?![城里])|旗|街道办事处|街道(?![上边旁里口两])|镇(?![上里压痛])|乡(?![下村亲镇]))"
)
_NOT_ADMIN = frozenset(
    _words("小区 社区 园区 景区 校区 片区 街区 辖区 厂区 营区 矿区 山区 郊区 市区 灾区 禁区 学区 超市 夜市 菜市 门市")
)
# Suffixes that speech recognition may write as words of their own, after a space
_LONE_SUFFIXES = frozenset(
    _words("省 市 区 县 镇 乡 村 路 街 巷 弄 号 栋 幢 座 期 组 单元 室 层 大道 大街 街道 小区 花园 社区 号楼 号院 胡同")
)
_HOUSE_AFTER = re.compile(rf"\s?{_NUM}\s?号")
_VILLAGE_NAME_ENDS = frozenset("营庄屯寨堡店湾沟坡岗坪桥集铺")  # 李家/nrfg 营村/n
# Developers' brands before a compound's own name: 碧桂园天玺湾, 金地格林小镇
_BRANDS = tuple(
    _words(
        "碧桂园 万科 恒大 保利 绿地 中海 万达 龙湖 融创 金地 华润 招商 绿城 世茂 富力 雅居乐 龙光 中铁 金科 旭辉 远洋"
        " 首开 正荣 融信 蓝光 美的 建业 鲁能 华侨城 荣盛 新城 阳光城 中梁 卓越 佳兆业 合景 时代 奥园 星河 九龙仓"
    )
)
_FULLWIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}  # ０-９, Ａ-ｚ, －, ＃
_MIN_NAME = {"admin": 2, "town": 2, "village": 2, "road": 2, "compound": 2}
_MAX_NAME = 8


@dataclass(frozen=True)
class _Token:
    word: str
    flag: str
    start: int
    end: int


@dataclass(frozen=True)
class _Part:
    kind: str
    start: int
    end: int


class AddressFinder:
    """Finds addresses in text with a jieba part-of-speech tokenizer loaded with the given dictionaries."""

    def __init__(self, dictionary_dir: Path | None = DEFAULT_DICTIONARY_DIR) -> None:
        import jieba  # imported lazily: only where addresses are extracted
        import jieba.posseg

        jieba.setLogLevel(logging.WARNING)
        self._tokenizer = jieba.Tokenizer()
        self._places: set[str] = set()
        if dictionary_dir is not None and dictionary_dir.is_dir():
            for path in sorted(dictionary_dir.glob("*.txt")):
                with path.open("rb") as dictionary:  # a path would be opened and never closed by jieba
                    self._tokenizer.load_userdict(dictionary)
                for line in path.read_text(encoding="utf-8").splitlines():
                    parts = line.split()
                    if len(parts) >= 3 and parts[-1] == "ns":
                        self._places.add(parts[0])
        self._pos: Any = jieba.posseg.POSTokenizer(self._tokenizer)
        self._lock = threading.Lock()

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """Addresses in ``text`` as ``(start, end, value)``, value without whitespace and punctuation.

        Speech recognition may put a space between any two words (杭州 市 上城 区 钱江 路 1381 号): the text is
        also read with the spaces between Chinese characters and digits squeezed out, and that reading wins
        when it covers more address text.
        """
        text = text.translate(_FULLWIDTH)  # same length: the spans stay the original text's
        found = self._find(text)
        squeezed = [k for k, c in enumerate(text) if not _squeezable(text, k)]
        if len(squeezed) < len(text):
            joined = "".join(text[k] for k in squeezed)
            alternative = [(squeezed[s], squeezed[e - 1] + 1, value) for s, e, value in self._find(joined)]
            if sum(len(v) for *_, v in alternative) > sum(len(v) for *_, v in found):
                return alternative
        return found

    def _find(self, text: str) -> list[tuple[int, int, str]]:
        if not text or not any(c in _SUFFIX_FIRST or c in "号栋幢座单室弄期十交" for c in text):
            return []
        tokens = self._tokens(text)
        parts = self._named(text, tokens) + _numbered(text)
        out = []
        for chain in _chains(text, _select(parts)):
            kinds = {p.kind for p in chain}
            if not (kinds & _ANCHORS or {"building", "unit"} <= kinds):
                continue
            start, end = chain[0].start, chain[-1].end
            value = "".join(
                c
                for k, c in enumerate(text[start:end], start)
                if c not in _SPACE
                and (c not in _PUNCT or (c == "-" and text[k - 1].isdigit() and text[k + 1].isdigit()))
            )  # 3-2-501 keeps its dashes
            if value:
                out.append((start, end, value))
        return out

    def _tokens(self, text: str) -> list[_Token]:
        """Jieba POS tokens of the text's windows that hold a suffix character (runs without space/punctuation)."""
        out: list[_Token] = []
        windows = list(re.finditer(r"[^\s,.;:!?，。；：！？、()（）\"'“”‘’《》【】]+", text))
        wanted = [any(c in _SUFFIX_FIRST or c in "十交" for c in w.group()) for w in windows]
        for k, window in enumerate(windows):
            # also the window before one with a suffix, one space away (ASR: 锦绣 花园)
            before = k + 1 < len(windows) and wanted[k + 1] and windows[k + 1].start() == window.end() + 1
            if not (wanted[k] or before):
                continue
            offset = window.start()
            with self._lock:
                pairs = [(p.word, p.flag) for p in self._pos.cut(window.group())]
            for word, flag in pairs:
                out.append(_Token(word, flag, offset, offset + len(word)))
                offset += len(word)
        return out

    def _named(self, text: str, tokens: list[_Token]) -> list[_Part]:
        by_end = {t.end: t for t in tokens}
        containing: dict[int, _Token] = {}
        for token in tokens:
            for i in range(token.start, token.end):
                containing[i] = token
        out: list[_Part] = []
        for i, char in enumerate(text):
            if char not in _SUFFIX_FIRST or i not in containing:
                continue
            for kind, pattern, risky in _NAMED_RE:
                match = pattern.match(text, i)
                if match is None:
                    continue
                for start in self._name_starts(text, i, containing[i], by_end, kind, risky, match.end()):
                    out.append(_Part(kind, start, match.end()))
        out.extend(_crossings(text, by_end, out))
        out.extend(_admin_chain(text, out))
        out.extend(_branded(text, out))
        return out

    def _name_starts(
        self,
        text: str,
        i: int,
        holder: _Token,
        by_end: dict[int, _Token],
        kind: str,
        risky: bool,
        end: int,
    ) -> list[int]:
        """Where the name before the suffix at ``i`` may start (token boundaries, longest name last)."""
        match_text = text[i:end]
        numbered_after = _AFTER_RISKY.match(text, end) is not None
        if risky and not numbered_after and text[holder.start : end] not in self._places:
            return []
        minimum = 1 if numbered_after and kind == "compound" else _MIN_NAME[kind]
        starts: list[int] = []
        start = i
        first = True
        if holder.start < i:  # the suffix is inside a token: 东湖路/ns, 新华区/ns, 马路/n, 这里/r
            inside = text[holder.start : i]
            if holder.flag in _BAD_FLAGS or holder.word in _STOP_WORDS or inside in _STOP_WORDS:
                return []
            if any(c in _STOP_CHARS for c in inside):
                return []
            generic = text[i - 1 : i + 1]
            if holder.flag not in _PLACE_FLAGS and generic in _GENERIC and not (generic == "公路" and numbered_after):
                return []  # 公交线路, 主要道路 (but 沪太公路1500号)
            if holder.flag.startswith("v"):
                return []
            start = holder.start
            village_name = kind == "village" and inside[-1] in _VILLAGE_NAME_ENDS
            if (
                holder.flag in _PLACE_FLAGS
                or len(inside) >= 2
                or (kind == "compound" and numbered_after)
                or village_name
            ):
                # a lone direction (建设/vn 北大街/ns) is no name yet: the token before it may be anything a road
                # name's first token may be
                first = inside in _DIRECTIONS
                starts.append(start)
            else:  # one character of a common word (市/n 心路/n): the name needs a one-character token before it
                previous = by_end.get(start)
                if previous is None or len(previous.word) != 1:
                    return []
        if holder.start == i and kind == "admin" and match_text in "区县" and text[i - 1 : i] == " ":
            previous = by_end.get(i - 1)  # ASR: 城东 区
            if previous is None or len(previous.word) < 2 or previous.flag not in _SPACED_ADMIN_FLAGS:
                return []
            return [] if previous.word in _STOP_WORDS else [previous.start]
        if holder.start == i and kind == "compound" and not risky and end - i >= 2 and text[i - 1 : i] == " ":
            start -= 1  # ASR puts a space between a compound's name and its suffix: 锦绣 花园
            if start not in by_end or by_end[start].flag not in _NAME_FLAGS:
                return []
        while start in by_end:
            token = by_end[start]
            if token.word.isspace() or token.word in _STOP_WORDS or token.word[0] in _STOP_CHARS:
                break
            if first and any(c in _FUNCTION_CHARS for c in token.word):  # 污水冒到/v 路上
                break
            if not first and token.word[-1] in _COMPONENT_ENDS:  # 西湖区 before 文三路: a component of its own
                break
            if first:
                if (
                    token.flag in _BAD_FLAGS
                    or token.flag.startswith("u")
                    or (len(token.word) <= 2 and token.word[-1] in _MEASURES)
                ):
                    break
                if token.flag == "f" and len(token.word) == 1 and token.word != "里":  # 暴雨后 路口
                    break
                if token.flag == "v" and kind in {"compound", "village"}:  # 砍伐小区, 考虑社区 (roads: 解放路)
                    break
                if (
                    match_text[0] in _CN_DIGITS
                    and text[i - 1] not in "东西南北中"
                    and token.flag not in _PLACE_FLAGS
                    and _HOUSE_AFTER.match(text, end) is None
                ):
                    break  # 垃圾车一路 (but 中山东一路, 延安一路/ns, 建设一路28号)
            elif token.flag not in _NAME_FLAGS and not (token.flag == "m" and all(c in _CN_DIGITS for c in token.word)):
                break
            if any(c.isascii() and c.isalnum() for c in token.word) or any(c in "号栋幢座室" for c in token.word):
                break
            if i - token.start > _MAX_NAME:
                break
            start, first = token.start, False
            starts.append(start)
        return [
            s
            for s in starts
            if len(text[s:i]) >= minimum
            and _has_name_char(text[s:i])
            and _STOP_PREFIX.match(text, s) is None  # 老/a 旧/a 小区
        ]


def _crossings(text: str, by_end: dict[int, _Token], parts: list[_Part]) -> list[_Part]:
    """A road or a place word with an explicit crossing word: 西津西路十字东南角, 人民路交口, 小寨十字."""
    out = []
    for part in parts:
        if part.kind == "road":
            match = _CROSSING_END.match(text, part.end)
            if match is not None:
                out.append(_Part("crossing", part.start, match.end()))
    for match in _CROSSING_END.finditer(text):
        previous = by_end.get(match.start())
        if (
            previous is not None
            and previous.flag in _PLACE_FLAGS
            and len(previous.word) >= 2
            and previous.word not in _STOP_WORDS
            and previous.word[-1] not in "路街道巷"
            and not any(c in _STOP_CHARS for c in previous.word)
        ):
            out.append(_Part("crossing", previous.start, match.end()))
    return out


def _branded(text: str, parts: list[_Part]) -> list[_Part]:
    """A compound with its developer's brand before it: 碧桂园天玺湾, 金地格林小镇."""
    out = []
    for part in parts:
        if part.kind in {"compound", "town", "village"}:
            for brand in _BRANDS:
                if text.startswith(brand, part.start - len(brand)) and part.start >= len(brand):
                    out.append(_Part("compound", part.start - len(brand), part.end))
                    break
    return out


def _admin_chain(text: str, parts: list[_Part]) -> list[_Part]:
    """The administrative levels right after a province/city/district/town (杭州市 + 上城区, 高新区 + 高新街道).

    Right after an administrative component the next name needs no part-of-speech evidence: 上/f 城区/n and
    高新/d 街道/n are names there. The name may not hold stop characters or other components' suffixes, and the
    result may not end in a common noun (幸福小区, 城区)."""
    out: list[_Part] = []
    frontier = [p for p in parts if p.kind in {"admin", "town"}]
    seen = {(p.start, p.end) for p in parts}
    while frontier:
        part = frontier.pop()
        match = _ADMIN_NEXT.match(text, part.end)
        if match is None:
            continue
        name, suffix = match.group(1), match.group(2)
        if (
            any(c in _STOP_CHARS or c in _NAME_BREAKS for c in name)
            or _STOP_PREFIX.match(name) is not None
            or text[match.end() - 2 : match.end()] in _NOT_ADMIN
            or (match.start(1), match.end()) in seen
        ):
            continue
        found = _Part("town" if suffix[0] in "街镇乡" else "admin", match.start(1), match.end())
        seen.add((found.start, found.end))
        out.append(found)
        frontier.append(found)
    return out


def _squeezable(text: str, k: int) -> bool:
    """A space between a word and a suffix standing alone after it (钱江 路, 1381 号, 上城 区)."""
    if text[k] not in _SPACE or k == 0 or k + 1 >= len(text):
        return False
    before = text[k - 1]
    if not ("\u4e00" <= before <= "\u9fff" or before.isdigit()):
        return False
    end = k + 1
    while end < len(text) and text[end] not in _SPACE and text[end] not in _PUNCT:
        end += 1
    return text[k + 1 : end] in _LONE_SUFFIXES


def _has_name_char(name: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" and c not in _CN_DIGITS for c in name)


def _numbered(text: str) -> list[_Part]:
    return [_Part(kind, m.start(), m.end()) for kind, pattern in _NUMBERED_RE for m in pattern.finditer(text)]


def _select(parts: list[_Part]) -> list[_Part]:
    """The non-overlapping parts covering the most text (weighted interval scheduling), in text order."""
    parts = sorted(set(parts), key=lambda p: (p.end, p.start))
    best: list[tuple[int, list[_Part]]] = [(0, [])]  # best[k]: best cover using parts[:k]
    ends = [p.end for p in parts]
    for k, part in enumerate(parts):
        j = _bisect_right(ends, part.start, k)
        take = best[j][0] + (part.end - part.start) + (1 if part.kind not in {"bare", "zone"} else 0)
        if take > best[k][0]:
            best.append((take, [*best[j][1], part]))
        else:
            best.append(best[k])
    return best[-1][1]


def _bisect_right(ends: list[int], value: int, hi: int) -> int:
    lo = 0
    while lo < hi:
        mid = (lo + hi) // 2
        if ends[mid] <= value:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _chains(text: str, parts: list[_Part]) -> list[list[_Part]]:
    """Adjacent parts (at most one space apart) grouped into chains; junctions merged; orphan numbers dropped."""
    parts = _junctions(text, parts)
    chains: list[list[_Part]] = []
    for part in parts:
        if chains:
            last = chains[-1][-1]
            gap = text[last.end : part.start]
            adjacent = part.start >= last.end and (gap == "" or (len(gap) == 1 and gap in _SPACE))
            fits = (
                (part.kind != "bare" or last.kind in {"unit", "floor", "building"})
                and (part.kind != "dashed" or last.kind in {"road", "compound", "house", "building", "phase", "zone"})
                and (part.kind != "group" or last.kind == "village")
            )
            if adjacent and fits:
                chains[-1].append(part)
                continue
        if part.kind not in {"bare", "group", "zone", "room", "floor", "dashed"}:
            chains.append([part])
        else:
            chains.append([_Part("orphan", part.start, part.end)])
    return [c for c in chains if c[0].kind != "orphan"]


def _junctions(text: str, parts: list[_Part]) -> list[_Part]:
    out: list[_Part] = []
    for part in parts:
        if out and out[-1].kind == "road" and part.kind in {"road", "crossing"}:
            connector = _CONNECTOR.fullmatch(text, out[-1].end, part.start)
            tail = _JUNCTION_END.match(text, part.end) if part.kind == "road" else None
            if connector is not None and (tail is not None or part.kind == "crossing"):
                out[-1] = _Part("junction", out[-1].start, part.end if tail is None else tail.end())
                continue
        if out and out[-1].kind == "junction" and part.start < out[-1].end:
            continue
        out.append(part)
    return out


@lru_cache(maxsize=4)
def finder(dictionary_dir: str | None = str(DEFAULT_DICTIONARY_DIR)) -> AddressFinder:
    """A shared :class:`AddressFinder` per dictionary directory (built on first use, ~1 s)."""
    return AddressFinder(Path(dictionary_dir) if dictionary_dir else None)


def find_addresses(text: str) -> list[tuple[int, int, str]]:
    """Addresses in ``text`` as ``(start, end, value)`` with the project's jieba dictionary.

    Args:
        text: A citizen message (chat, SMS, email, speech-recognition output).

    Returns:
        Non-overlapping spans in text order; ``value`` is ``text[start:end]`` without whitespace and punctuation.
    """
    return finder().find(text)
