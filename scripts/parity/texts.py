"""The parity texts: informal Indonesian, English, code-mixed, emoji, odd whitespace, rare
characters, and long messages past the 128-token limit. Written for convoqa; deterministic."""

HAND = [
    "halo kak", "ok", "ok kak", "makasih kak 🙏", "terima kasih banyak ya min", "1", "3", "menu",
    "kak pesanan aku kok blm dikirim ya? udah 3 hari",
    "min paket INV/2026/31517000 katanya udah sampai tp aku gak terima apa2",
    "kak aku mau retur barang, ukurannya kekecilan. gimana caranya?",
    "kak aku udah transfer tp status masih menunggu pembayaran, tolong dicek dong",
    "min tolong batalin pesanan ya, salah pilih warna",
    "kak akun aku gak bisa login, kode OTP nya gak masuk2",
    "kak sepatu yg hitam size 42 ready gak? bahannya apa ya",
    "min kode voucher GAJIAN50 kok gak bisa dipake ya",
    "Hi, my order still hasn't shipped after 3 days. Any update?",
    "Tracking says it was delivered but I never got it",
    "I'd like to return this, the size is wrong. How do I do that?",
    "I paid by bank transfer but the order still says awaiting payment",
    "Please cancel order #88213, I picked the wrong colour",
    "I can't log in to my account, the OTP code never arrives",
    "kak order nya status masih processing terus, kapan shipped ya?",
    "min tracking bilang delivered tapi paketnya gak ada, please check",
    "kak mau refund aja, barangnya defect",
    "kak payment via VA udah success tapi order masih pending",
    "gila ya pelayanannya lama bgt, udah seminggu gak ada kabar 😡😡",
    "PARAH!!! barang rusak, kardus penyok, isinya pecah semua",
    "mantap kak, pengiriman cepet banget 👍👍👍",
    "wkwkwk ok deh kak",
    "gpp kak, santai aja",
    "udh kak", "blm kak", "gmn kak?", "sip", "oke siap", "y", "tdk", "iya bener",
    "kak??", "halo?? ada orang??", "P", "p", "PING", "test",
    "Rp 1.250.000 udah aku transfer ke BCA 1234567890 a.n. Budi",
    "no resi JX1234567890 kak",
    "email aku budi.santoso@example.com kak",
    "nomor hp 0812-3456-7890",
    "+62 812 3456 7890",
    "https://example.com/order/123?token=abc",
    "kak ini link nya https://tokopedia.link/AbCdEf",
    "😀", "🙏🙏🙏", "👍", "❤️", "😭😭😭 kapan sampenya", "🔥🔥 promo nya mantul",
    "🇮🇩 merdeka", "👨‍👩‍👧 paket keluarga ada?", "🤦‍♂️",
    "double  space   here", "tab\there", "new\nline", "  leading spaces", "trailing spaces   ",
    "ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ", "ｶﾀｶﾅ", "①②③", "ﬁle ﬂow", "Ⅻ", "㎏ ㎞", "x²",
    "café naïve façade", "Ünïcödé", "İstanbul", "straße", "ǅ", "Ω ohm",
    "日本語のテキスト", "中文客服", "한국어", "العربية", "עברית", "हिन्दी", "ไทย",
    "Ελληνικά", "русский текст", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "𓀀 hieroglyph", "𓀀𓀁𓀂 tiga hieroglyph berturut", "a𓀀b", "\u200b zero width", "soft\u00adhyphen",
    "kak\u00a0nbsp", "a\u3000b ideographic space", "...", "???", "!!!", "-_-", ":)", ":(", "<3",
    "12345", "2026-11-22", "10:30", "50%", "$100", "€20", "Rp50rb", "3x", "#hashtag", "@mention",
    "COD bisa gak kak", "bisa cicilan 0% gak?", "ongkir ke makassar berapa ya kak",
    "kurir AnterAja bilang paketnya udah diantar padahal sy seharian di rumah",
    "aku udah nunggu dari jam 9 pagi sampe sekarang gak ada yg bales",
    "thank you so much, very helpful!",
    "this is the worst customer service I've ever experienced",
    "ok I'll wait", "no worries", "still waiting...", "any update?", "hello??",
    "I want to speak to a human agent", "agent please", "mau ngomong sama CS manusia aja",
]

STARTS = ["kak", "min", "gan", "sis", "halo kak", "permisi kak", "hi", "hello", "mas", "mbak"]
ISSUES = [
    "pesanan saya belum sampai", "paket aku nyasar", "refund belum masuk", "saldo kepotong 2x",
    "akun ke-suspend", "aplikasi error terus", "voucher gak bisa diklaim", "barang yg dateng beda",
    "my package is lost", "I was charged twice", "the app keeps crashing", "wrong item delivered",
    "mau ganti alamat pengiriman", "cara pakai fiturnya gimana", "kapan restock", "bisa tuker size?",
]
ENDS = ["", " ya", " dong", " please", " 🙏", " tolong dibantu", " asap", " makasih", "!!", "?"]


def long_text(seed):
    parts = []
    i = seed
    while len(" ".join(parts)) < 900 + 60 * (seed % 5):
        parts.append(f"{STARTS[i % len(STARTS)]} {ISSUES[(i * 7) % len(ISSUES)]}{ENDS[(i * 3) % len(ENDS)]}.")
        i += 1
    return " ".join(parts)


def texts():
    out = list(HAND)
    for i in range(100):
        out.append(f"{STARTS[i % len(STARTS)]} {ISSUES[(i * 5 + i // 10) % len(ISSUES)]}{ENDS[(i * 3 + 1) % len(ENDS)]}")
    for s in range(12):
        out.append(long_text(s))
    return out
