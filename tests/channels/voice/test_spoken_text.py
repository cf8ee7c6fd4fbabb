"""Numbers in IVR prompts and answers rewritten the way a Chinese hotline reads them (channels/voice/spoken_text.py)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.voice.spoken_text import (
    PAUSE,
    digits,
    money,
    number,
    order_number,
    phone_number,
    quantity,
    speakable,
    spoken_date,
    spoken_time,
)

# (written, spoken): whole sentences as prompts, answers and announcements write them.
SENTENCES = [
    # service numbers and short codes: digit by digit, 1 as 幺
    ("您好，这里是12319城建服务热线。", "您好，这里是幺二三幺九城建服务热线。"),
    ("如需帮助，请拨打12345政务服务便民热线。", "如需帮助，请拨打幺二三四五政务服务便民热线。"),
    ("遇到燃气泄漏请立即拨打119或110。", "遇到燃气泄漏请立即拨打幺幺九或幺幺零。"),
    ("报警110，火警119，急救120，交通事故122。", "报警幺幺零，火警幺幺九，急救幺二零，交通事故幺二二。"),
    ("停电报修请拨95598。", "停电报修请拨九五五九八。"),
    ("全市热线共12条", "全市热线共十二条"),
    # phone numbers
    ("回访电话13800138000，请保持畅通。", "回访电话幺三八，零零幺三，八零零零，请保持畅通。"),
    ("联系人手机：138-0013-8000。", "联系人手机：幺三八，零零幺三，八零零零。"),
    ("手机 139 0571 2345", "手机 幺三九，零五七幺，二三四五"),
    ("境外请拨+86 13800138000", "境外请拨加八六，幺三八，零零幺三，八零零零"),
    ("请拨打0571-88886666咨询。", "请拨打零五七幺，八八八八，六六六六咨询。"),
    ("北京专线(010)12345678转8001", "北京专线零幺零，幺二三四，五六七八，转八零零幺"),
    ("供水热线（0571）8888 6666", "供水热线零五七幺，八八八八，六六六六"),
    ("物业电话0571-8765432", "物业电话零五七幺，八七六，五四三二"),
    ("燃气公司客服400-123-4567", "燃气公司客服四零零，幺二三，四五六七"),
    ("服务电话4008001234", "服务电话四零零，八零零，幺二三四"),
    ("分机转802", "分机转八零二"),
    # work-order numbers: YYYYMMDD + 4-digit sequence in groups of 4
    ("您查询的工单202612070012，处理中。", "您查询的工单二零二六，幺二零七，零零幺二，处理中。"),
    ("已为您登记工单，工单号：202611250007。", "已为您登记工单，工单号：二零二六，幺幺二五，零零零七。"),
    ("工单编号2026-1207-0012", "工单编号二零二六，幺二零七，零零幺二"),
    ("工单编号2026 1207 0012", "工单编号二零二六，幺二零七，零零幺二"),
    ("单号20261207-0012", "单号二零二六，幺二零七，零零幺二"),
    ("您最近的工单202612070012已办结", "您最近的工单二零二六，幺二零七，零零幺二已办结"),
    ("受理号12345678", "受理号幺二三四，五六七八"),
    # verification codes, rooms, plates
    ("您的验证码是1234，5分钟内有效。", "您的验证码是幺二三四，五分钟内有效。"),
    ("动态密码：905217", "动态密码：九零五二幺七"),
    ("报修地址：幸福路88号A区3栋502室", "报修地址：幸福路八十八号A区三栋五零二室"),
    ("5号楼2单元1201", "五号楼二单元幺二零幺"),
    ("房间1502漏水", "房间幺五零二漏水"),
    ("1201房间", "幺二零幺房间"),
    ("车牌浙A12345", "车牌浙A幺二三四五"),
    ("G60高速，5G网络", "G六零高速，五G网络"),
    # key presses
    (
        "政策咨询请按1；查询工单进度请按2；投诉报修请按3；留言请按9；人工服务请按0。",
        "政策咨询请按一；查询工单进度请按二；投诉报修请按三；留言请按九；人工服务请按零。",
    ),
    ("继续咨询请按1，返回主菜单请按星号键。", "继续咨询请按一，返回主菜单请按星号键。"),
    ("确认请按1键，重新输入请按*，结束请按#", "确认请按一键，重新输入请按星号键，结束请按井号键"),
    ("请输入工单编号，以#号键结束。", "请输入工单编号，以井号键结束。"),
    ("请输入密码，以#结束", "请输入密码，以井号键结束"),
    ("按 # 号确认", "按井号键确认"),
    ("返回上级按*键", "返回上级按星号键"),
    ("按3天计算滞纳金", "按三天计算滞纳金"),
    ("满意请按1，不满意请按2", "满意请按一，不满意请按二"),
    ("请按1至5键评价", "请按一至五键评价"),
    ("按1.5倍收取", "按一点五倍收取"),
    # money
    ("您本期应缴¥1,234.50。", "您本期应缴一千二百三十四元五角。"),
    ("本月水费1234.5元。", "本月水费一千二百三十四元五角。"),
    ("停车费35元。", "停车费三十五元。"),
    ("污水处理费0.5元/吨", "污水处理费五角每吨"),
    ("居民水价为3.45元/立方米", "居民水价为三元四角五分每立方米"),
    ("手续费1.05元", "手续费一元零五分"),
    ("差额0.05元", "差额五分"),
    ("押金10.00元", "押金十元"),
    ("每次2元", "每次两元"),
    ("罚款12000元", "罚款一万两千元"),
    ("补贴￥1.5万", "补贴一点五万元"),
    ("物业费2.2元/平方米/月", "物业费两元二角每平方米每月"),
    ("电费0.538元/kWh", "电费零点五三八元每千瓦时"),
    ("收费10元-20元", "收费十元至二十元"),
    ("阶梯水价2-3元", "阶梯水价两至三元"),
    # quantities
    ("房屋面积120平方米", "房屋面积一百二十平方米"),
    ("预计停水3天", "预计停水三天"),
    ("请在30分钟内回复", "请在三十分钟内回复"),
    ("维修约需2小时", "维修约需两小时"),
    ("您前面还有2位，请稍候。", "您前面还有两位，请稍候。"),
    ("已派出2个维修小组，持续2天", "已派出两个维修小组，持续两天"),
    ("我们将在3个工作日内答复", "我们将在三个工作日内答复"),
    ("3-5个工作日", "三至五个工作日"),
    ("预计2~3天恢复", "预计两至三天恢复"),
    ("共15条公告", "共十五条公告"),
    ("第3个问题", "第三个问题"),
    ("第2名", "第二名"),
    ("第1-3条", "第一至三条"),
    ("涉及12000户居民", "涉及一万两千户居民"),
    ("共12000", "共一万两千"),
    ("受影响约22000人", "受影响约两万两千人"),
    ("最多12人，最少20人", "最多十二人，最少二十人"),
    ("2室1厅", "两室一厅"),
    ("100多人", "一百多人"),
    ("限速30公里/小时", "限速三十公里每小时"),
    ("面积120㎡，用水3m³", "面积一百二十平方米，用水三立方米"),
    ("共有1005户", "共有一千零五户"),
    # dates and times
    ("停水时间为2026年12月8日8:30至17:00。", "停水时间为二零二六年十二月八日八点三十分至十七点。"),
    ("2026-12-07", "二零二六年十二月七日"),
    ("2026/12/7起施行", "二零二六年十二月七日起施行"),
    ("12月7日（周一）", "十二月七日（周一）"),
    ("2月2日", "二月二日"),
    ("工作时间08:30-12:00，13:00-17:30。", "工作时间八点三十分至十二点，十三点至十七点三十分。"),
    ("17:05", "十七点零五分"),
    ("2:00前恢复", "两点前恢复"),
    ("凌晨0:30", "凌晨零点三十分"),
    ("14时05分", "十四时零五分"),
    ("2026-12-08 09:00至2026-12-09 18:00", "二零二六年十二月八日 九点至二零二六年十二月九日 十八点"),
    ("2026年-2027年", "二零二六年至二零二七年"),
    ("工作日周一至周五", "工作日周一至周五"),
    # percentages, decimals, temperatures, negatives
    ("满意率85%", "满意率百分之八十五"),
    ("上涨3.5%", "上涨百分之三点五"),
    ("完成率100%", "完成率百分之一百"),
    ("降幅10%-20%", "降幅百分之十至百分之二十"),
    ("水压3.5", "水压三点五"),
    ("最低气温-5℃", "最低气温零下五摄氏度"),
    ("气温-5~3℃", "气温零下五至三摄氏度"),
    ("气温-5至-1℃", "气温零下五至零下一摄氏度"),
    ("室温25℃", "室温二十五摄氏度"),
    ("变化-3", "变化负三"),
    # bare numbers without context
    ("12319", "幺二三幺九"),
    ("123456789", "幺二三四，五六七八，九"),
    ("1200", "一千二百"),
    ("2000", "两千"),
    ("05", "零五"),
    ("0", "零"),
    ("2026", "两千零二十六"),
    ("3-5", "三，五"),
    ("12-07", "幺二，零七"),
    ("１２３１９", "幺二三幺九"),
    # text without numbers, English untouched
    ("对不起，您的输入有误。", "对不起，您的输入有误。"),
    ("Hello, this is the hotline.", "Hello, this is the hotline."),
    ("按工单编号查询", "按工单编号查询"),
    ("C# and *emphasis*", "C# and *emphasis*"),
    ("", ""),
]


@pytest.mark.parametrize(("written", "spoken"), SENTENCES)
def test_sentences(written: str, spoken: str) -> None:
    assert speakable(written) == spoken


@pytest.mark.parametrize(("written", "spoken"), SENTENCES)
def test_sentences_are_stable(written: str, spoken: str) -> None:
    assert speakable(spoken) == spoken


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda: digits("12319"), "幺二三幺九"),
        (lambda: digits("2026", one="一"), "二零二六"),
        (lambda: phone_number("13800138000"), "幺三八，零零幺三，八零零零"),
        (lambda: phone_number("01012345678"), "零幺零，幺二三四，五六七八"),
        (lambda: phone_number("4001234567"), "四零零，幺二三，四五六七"),
        (lambda: phone_number("12319"), "幺二三幺九"),
        (lambda: order_number("202612070012"), "二零二六，幺二零七，零零幺二"),
        (lambda: quantity(2, liang=True), "两"),
        (lambda: quantity(2), "二"),
        (lambda: quantity(12000), "一万两千"),
        (lambda: quantity(20000000), "两千万"),
        (lambda: quantity(120000), "十二万"),
        (lambda: quantity(1010), "一千零一十"),
        (lambda: number(2000), "二千"),
        (lambda: number(15), "十五"),
        (lambda: money("0.5"), "五角"),
        (lambda: money("3.456"), "三点四五六元"),
        (lambda: money("0"), "零元"),
        (lambda: spoken_date("2026", "12", "07"), "二零二六年十二月七日"),
        (lambda: spoken_date(None, "2", "2"), "二月二日"),
        (lambda: spoken_time("08", "30"), "八点三十分"),
        (lambda: spoken_time("17", "05"), "十七点零五分"),
        (lambda: spoken_time("12", "00"), "十二点"),
        (lambda: spoken_time("08", "00", "15"), "八点零分十五秒"),
    ],
)
def test_helpers(call: Callable[[], str], expected: str) -> None:
    assert call() == expected


def test_groups_pause_with_the_chinese_comma() -> None:
    assert PAUSE == "，"
    assert speakable("回访电话13800138000").count(PAUSE) == 2


# -- properties -----------------------------------------------------------------------------------------------

_NUMERIC = "0123456789０１２３-.:/%℃¥,~#* "
_CONTEXT = "按电话热线工单编号第共元角年月日号个天小时分钟室栋平方米吨度至到请拨打验证码，。；"
_MIXED = st.text(alphabet=st.sampled_from(list(_NUMERIC + _CONTEXT + "Ab两十")), max_size=40)
_ANY = st.one_of(st.text(max_size=60), _MIXED)
_DIGIT = re.compile(r"[0-9０-９]")


@settings(max_examples=600, deadline=None)
@given(_ANY)
def test_never_raises_and_leaves_no_digits(text: str) -> None:
    spoken = speakable(text)
    assert isinstance(spoken, str)
    assert not _DIGIT.search(spoken)


@settings(max_examples=600, deadline=None)
@given(_ANY)
def test_idempotent(text: str) -> None:
    once = speakable(text)
    assert speakable(once) == once


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60).filter(lambda t: not re.search(r"[0-9０-９#*＃＊]", t)))
def test_text_without_digits_or_keys_is_unchanged(text: str) -> None:
    assert speakable(text) == text


_NEUTRAL = st.text(alphabet=st.sampled_from(list("您好请注意这是的了吗，。！？ 城建服务abcxyz")), max_size=12)
_NUMBERS = st.one_of(
    st.integers(min_value=0, max_value=10**20).map(str),
    st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False, allow_infinity=False).map(str),
)


@settings(max_examples=300, deadline=None)
@given(_NEUTRAL, _NUMBERS, _NEUTRAL)
def test_text_around_a_number_is_kept_byte_identical(before: str, value: str, after: str) -> None:
    spoken = speakable(before + value + after)
    assert spoken.startswith(before)
    assert spoken.endswith(after)
    assert not _DIGIT.search(spoken)
