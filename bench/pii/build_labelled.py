"""Build labelled.jsonl: Korean KakaoTalk-style lines with planted PII.

Markup in the templates: [[kind|value]] -> value in the text, span labelled kind.
RRN/FRN/card values are generated with real checksums (or deliberately broken ones)
so the set tests checksum-aware detectors fairly.  Run: python build_labelled.py
"""
from __future__ import annotations

import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
KINDS = {"phone", "rrn", "frn", "card", "account", "email", "url", "address", "plate", "name"}
W = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]


def rrn(front6: str, back6: str, sep: str = "-", valid: bool = True, frn: bool = False) -> str:
    """front6 = YYMMDD, back6 = gender digit + 5 digits; appends check digit."""
    d = [int(c) for c in front6 + back6]
    s = sum(a * b for a, b in zip(d, W))
    chk = ((13 if frn else 11) - s % 11) % 10
    if not valid:
        chk = (chk + 3) % 10
    return f"{front6}{sep}{back6}{chk}"


def luhn(body: str, valid: bool = True) -> str:
    """body without check digit (digits only); returns body + Luhn check digit."""
    total = 0
    for i, c in enumerate(reversed(body)):
        n = int(c)
        if i % 2 == 0:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    chk = (10 - total % 10) % 10
    if not valid:
        chk = (chk + 1) % 10
    return body + str(chk)


def group(num: str, sizes, sep=" ") -> str:
    out, i = [], 0
    for s in sizes:
        out.append(num[i:i + s])
        i += s
    return sep.join(out)


C1 = group(luhn("453201234567890"), [4, 4, 4, 4], "-")          # Visa
C2 = group(luhn("540012345678901"), [4, 4, 4, 4], " ")          # Master
C3 = luhn("941012345678901")                                     # BC domestic, no sep
C4 = group(luhn("37123456789012"), [4, 6, 5], " ")               # Amex 15
C5 = group(luhn("625904123456789"), [4, 4, 4, 4], "-")           # UnionPay
C6 = group(luhn("436912345678123", valid=False), [4, 4, 4, 4], "-")  # bad Luhn, clearly a card
C7 = group(luhn("510123456789012"), [4, 4, 4, 4], "-")

PII_LINES = [
    # phone
    "내 번호 [[phone|010-2345-6789]] 저장해둬",
    "[[phone|01098765432]]로 연락주세요~",
    "사무실은 [[phone|02-123-4567]]이에요",
    "해외에서 걸 땐 [[phone|+82 10-3456-7890]]으로 하면 돼",
    "엄마폰 [[phone|010 5555 1234]] ㅇㅇ",
    "부산 매장 전화번호 [[phone|051-234-5678]] 맞나요?",
    "[[phone|+821045678901]] 이거 내 번호임",
    "택배기사님 번호 [[phone|010.3344.5566]] 이래",
    "070 번호로 와서 안받았어 [[phone|070-8123-4567]]",
    "대표번호 말고 직통 [[phone|031-789-0123]]으로 전화 주세요",
    "폰번호 바꿨어!! [[phone|010-9876-5432]] ㅋㅋ",
    "집전화 [[phone|(02) 3456-7890]] 아직 써?",
    "ㅇㅇ 번호 [[phone|010-1234-5678]] 맞음",
    # rrn (valid, invalid-as-typed, post-2020 random tail, no hyphen, space)
    f"주민번호 [[rrn|{rrn('900101', '123456')}]] 맞아?",
    f"주민등록번호 [[rrn|{rrn('950115', '223456', sep='')}]] 입니다",
    f"동생 주민번호 [[rrn|{rrn('030512', '412345')}]]",
    "내 주민번호 [[rrn|900101-1234567]] 이거 맞나 확인 좀",
    f"[[rrn|{rrn('850723', '154321', sep=' ')}]] 이게 아빠 주민번호",
    "아기 주민번호 [[rrn|210315-3847261]] 나왔어요",
    f"보험 가입할 때 주민번호 [[rrn|{rrn('770808', '256789', valid=False)}]] 넣으면 돼",
    f"[[rrn|{rrn('881231', '198765')}]]",
    f"서류에 [[rrn|{rrn('040229', '312345')}]] 적어서 내",
    # frn
    f"외국인등록번호 [[frn|{rrn('920315', '512345', frn=True)}]] 입니다",
    f"외국인 친구 등록번호가 [[frn|{rrn('880620', '623456', frn=True)}]]래",
    f"알바생 외국인번호 [[frn|{rrn('010203', '712345', frn=True)}]] 보내드려요",
    f"등록번호 [[frn|{rrn('990909', '876543', frn=True, valid=False)}]] 맞는지 봐줘",
    # card
    f"카드번호 [[card|{C1}]] 유효기간 12/27",
    f"[[card|{C2}]] 이 카드로 결제해줘",
    f"비씨카드 [[card|{C3}]] 로 긁었어",
    f"아멕스 [[card|{C4}]] 이거 법카",
    f"은련카드 [[card|{C5}]]",
    f"카드 [[card|{C6}]] 승인 안 된대",
    f"번호 불러줄게 [[card|{C7}]] cvc는 비밀",
    # account
    "국민은행 [[account|123456-78-901234]] [[name|김민수]]로 보내줘",
    "신한 [[account|110-123-456789]] 입금 부탁해",
    "우리은행 [[account|1002-123-456789]] 입니다",
    "카뱅 [[account|3333-01-1234567]] ㄱㄱ",
    "토스뱅크 [[account|1000-1234-5678]] 로 보내",
    "농협 [[account|302-1234-5678-11]] 예금주 [[name|박지훈]]",
    "하나은행 [[account|123-456789-12345]]",
    "계좌번호 [[account|110123456789]] 신한이야",
    "기업 [[account|123-456789-01-011]] 으로 주세요",
    "카카오뱅크 [[account|3333-12-3456789]]로 입금 부탁드려요",
    "새마을금고 [[account|9002-1234-5678-9]]",
    "회비는 [[account|1002-987-654321]] 우리로 ㄱㄱ",
    "계좌 [[account|3333-05-7654321]] 카카오 [[name|이서연]]",
    # email
    "메일 [[email|minsu.kim@gmail.com]]으로 보내줘",
    "[[email|jh_park92@naver.com]] 여기로 주세요",
    "회사메일은 [[email|s.lee@company.co.kr]] 입니다",
    "[[email|hello+kakao@daum.net]] 로 파일 ㄱ",
    "이메일주소: [[email|tkdwn1004@hanmail.net]]",
    "[[email|yuna.choi@snu.ac.kr]]로 과제 제출하래",
    # url
    "이거 봐봐 [[url|https://www.youtube.com/watch?v=dQw4w9WgXcQ]] ㅋㅋㅋ",
    "[[url|http://naver.me/5abcdEFG]] 여기 맛집",
    "블로그 주소 [[url|https://blog.naver.com/minsu_92/223344556]]",
    "[[url|www.coupang.com/vp/products/123456]] 이거 사",
    "인스타 [[url|instagram.com/jihyun_0308]] 팔로우해줘",
    "구글폼 [[url|https://forms.gle/AbC123xyz]] 작성해주세요",
    "오픈채팅 [[url|https://open.kakao.com/o/gAbCdEf]] 들어와",
    # address
    "우리집 [[address|서울시 강남구 테헤란로 123]]이야",
    "[[address|경기도 성남시 분당구 판교역로 235]] 여기로 와",
    "택배 [[address|부산광역시 해운대구 센텀중앙로 97, 101동 1203호]]로 보내줘",
    "[[address|역삼동 123-45]] 빌라 2층이에요",
    "주소는 [[address|서울 마포구 월드컵북로 396]]",
    "[[address|인천 연수구 송도동 24-5]] 근처야",
    "할머니댁 [[address|대구 수성구 범어동 187-3번지]]",
    "[[address|래미안아파트 105동 802호]]로 와",
    "[[address|101동 1203호]] 앞에 두고 가주세요",
    "[[address|제주특별자치도 제주시 첨단로 242]] 사무실",
    "자취방 [[address|광주 북구 용봉로 77]] 원룸",
    "[[address|세종시 한누리대로 2130]] 정부청사",
    # plate
    "차번호 [[plate|12가 3456]] 이야",
    "[[plate|123가4567]] 차주분 차 빼주세요",
    "옛날 번호판 [[plate|서울12가3456]] 그대로야",
    "내 차 [[plate|34나 5678]] 흰색 소나타",
    "[[plate|경기 45다 1234]] 봉고차 누구꺼?",
    "렌트카 [[plate|12허 3456]] 반납했어요",
    "주차장에 [[plate|234러 5678]] 누구차야?",
    # names (non-participants)
    "[[name|김민수]] 결혼한대",
    "[[name|민수]]야 밥먹자",
    "[[name|지현]]이가 그러는데 내일 휴강이래",
    "[[name|박서준]] 선배 연락처 알아?",
    "아까 [[name|이영희]] 씨가 전화했어요",
    "[[name|최지우]] 팀장님께 보고드렸습니다",
    "[[name|수빈]]이 생일 선물 뭐 사지",
    "[[name|하은]]아 숙제 했어?",
    "[[name|김철수]] 님께 입금 완료했습니다",
    "[[name|윤서]]랑 [[name|도윤]]이 싸웠대",
    "담당자 [[name|강현우]] 대리님 오늘 휴가세요",
    "[[name|한지민]] 언니가 준 거야",
    "ㅋㅋㅋ [[name|정민]]이 또 지각함",
    # mixed
    "[[name|김민수]] [[phone|010-2233-4455]] [[address|서울 강남구 역삼동 123-45]]",
    f"성함 [[name|오세훈]] 연락처 [[phone|010-4455-6677]] 주민번호 [[rrn|{rrn('800505', '167890')}]]",
    "[[email|jihoon@kakao.com]] 이나 [[phone|010-7777-8888]] 로 연락줘",
    "[[name|서연]]이 차 [[plate|56버 7890]] 여기 세워져 있음",
    f"환불은 [[card|{C1}]] 말고 [[account|110-987-654321]] 신한으로 해주세요",
]

CLEAN_LINES = [
    "오늘 3시에 보자",
    "오후 3:30 강남역 11번 출구",
    "10:40 기차야 늦지마",
    "치킨 2인분 시켰어 ㅋㅋㅋ",
    "우리 3명이서 가",
    "15,000원씩 보내줘",
    "3만원이면 충분해",
    "아아 1500원 실화냐",
    "2024.3.8 에 만나자",
    "3월 8일 금요일 어때?",
    "010 번호는 다 비슷하게 생겼네",
    "어제 경기 3:2로 이겼음",
    "앱 버전 1.2.3 업데이트 했어?",
    "배터리 87% 남음",
    "ㅋㅋㅋㅋㅋㅋ 개웃겨",
    "😂😂😂 진짜?",
    "회의실 301호에서 해요",
    "7016번 버스 타면 돼",
    "2023년에 졸업했어",
    "KTX 12호차 5A석이야",
    "3층 화장실 앞에서 봐",
    "오늘 12,345보 걸었다",
    "시험 95점 받음 ㅎㅎ",
    "2호선 타고 가",
    "영화 19:20 꺼 예매했어",
    "iOS 17.4.1 깔았는데 버그 있음",
    "넷플 요금제 17,000원으로 올랐대",
    "1+1 행사 중이래",
    "ㅇㅋㅇㅋ 내일 봐~",
    "네 알겠습니다 감사합니다",
    "로또 번호 3 11 24 31 38 42",
    "주문번호 2024030812345 확인해주세요",
    "택배 송장번호 6789-1234-5678 조회 안 돼",
    "3.5km 뛰었어",
    "30% 할인 쿠폰 있음",
    "1:1 문의 남겼어요",
    "월세 50에 보증금 500",
    "내일 오전 9시 30분 출발",
    "연봉 3,500만원 받는대",
    "아파트 매매가 12억 3천",
    "문제집 123쪽 4번 모르겠어",
    "1월 1일 새해 복 많이 받으세요🎉",
    "ㅎㅎ 고마워 사랑해❤️",
    "김치찌개 먹을래 김밥 먹을래",
    "이번 주 토요일 어때",
    "박수 쳐줘 최고야",
    "강아지 산책 다녀올게",
    "정말 고마워 진심",
    "10시 40분에 101번 버스 타",
    "오늘 기온 -3도래",
    "2024-03-08 14:30 회의",
    "PS5 게임 69,800원 세일",
    "우리 반 2-3반이야",
    "시속 100km로 달림",
    "오늘 카드값 나가는 날 ㅠㅠ",
    "계좌이체로 할게요",
]


def parse(template: str):
    text, spans, pos = "", [], 0
    for m in re.finditer(r"\[\[(\w+)\|(.+?)\]\]", template):
        text += template[pos:m.start()]
        kind, value = m.group(1), m.group(2)
        assert kind in KINDS, kind
        spans.append({"start": len(text), "end": len(text) + len(value), "kind": kind})
        text += value
        pos = m.end()
    text += template[pos:]
    return text, spans, [m.group(2) for m in re.finditer(r"\[\[(\w+)\|(.+?)\]\]", template)]


def main():
    rows = []
    for t in PII_LINES:
        text, spans, values = parse(t)
        for s, v in zip(spans, values):
            assert text[s["start"]:s["end"]] == v, (text, s, v)
        assert spans, t
        rows.append({"text": text, "spans": spans})
    for t in CLEAN_LINES:
        assert "[[" not in t
        rows.append({"text": t, "spans": []})
    texts = [r["text"] for r in rows]
    assert len(texts) == len(set(texts)), "duplicate lines"
    out = HERE / "labelled.jsonl"
    with out.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    # independent re-check of offsets from the written file
    from collections import Counter
    c = Counter()
    for line in out.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        for s in r["spans"]:
            seg = r["text"][s["start"]:s["end"]]
            assert seg and seg == seg.strip(), (r, s)
            c[s["kind"]] += 1
    print(f"{len(rows)} lines ({len(PII_LINES)} with PII, {len(CLEAN_LINES)} clean); spans per kind: {dict(c)}")


if __name__ == "__main__":
    main()
