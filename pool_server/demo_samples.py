"""The demo pool's sample items: a dozen short stories, two per member, each in the
member's language and sent the way members send them — an essence (news in MP4, an
XDCAM-style MXF with timecode, a ProRes MOV with a language-tagged audio track, or an
audio-only item) with a descriptive sidecar in one of the formats the catalog reads.

Data only; `samples.py` makes the files. Add a row to add a sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Sample:
    member: str
    folder: str
    """Category, and series if any: 'news', 'documentaries/Anadolu Mirası'."""
    stem: str
    kind: str
    """'mp4' (H.264 + AAC), 'mxf' (MPEG-2 4:2:2 interlaced + PCM, timecode), 'mov'
    (ProRes 422 HQ + PCM with a language tag) or 'audio' (AAC in .m4a)."""
    sidecar: str
    """'json', 'newsml', 'ebucore', 'dc' or 'xmp'."""
    language: str
    """ISO 639-1 code of the item (and, as ISO 639-2, of its audio track)."""
    title: str
    description: str
    location: str
    keywords: tuple[str, ...] = ()
    shotlist: str = ""
    source: str = "testsrc"
    """The lavfi video source of the picture."""
    tone: int = 440
    """Frequency of the sine tone on the audio track."""
    subtitles: tuple[tuple[float, float, str], ...] = field(default=())
    """(start s, end s, text) cues of a `<stem>.<language>.srt`, if any."""


SAMPLES: tuple[Sample, ...] = (
    Sample(
        "TRT",
        "news",
        "ankara_kar_yagisi",
        "mp4",
        "json",
        "tr",
        "Ankara'da yoğun kar yağışı",
        "Başkentte gece boyunca süren kar yağışı trafiği aksattı; belediye ekipleri "
        "ana yollarda tuz serpti. Sürücüler dikkatli olmaları için uyarıldı.",
        "Ankara",
        ("kar", "trafik", "kış"),
        "1. GENEL Kızılay meydanı 2. YAKIN tuz serpen ekipler 3. SOT sürücü (Türkçe, 8 sn)",
        "testsrc2",
        440,
        ((0.0, 1.5, "Ankara'da kar yağışı sürüyor."), (1.5, 3.0, "Ekipler yollarda.")),
    ),
    Sample(
        "TRT",
        "documentaries/Anadolu Mirası",
        "kapadokya_balonlari",
        "mxf",
        "newsml",
        "tr",
        "Kapadokya'da sıcak hava balonları",
        "Göreme vadisinde gün doğumu; balon pilotlarıyla söyleşi. Peri bacaları ve "
        "kaya kiliseleri üzerinde uçuş.",
        "Nevşehir",
        ("Kapadokya", "balon", "turizm"),
        "1. GENEL vadi, gün doğumu 2. Balonlar havalanıyor 3. SOT pilot (Türkçe, 15 sn)",
        "smptebars",
        523,
    ),
    Sample(
        "AZTV",
        "news",
        "baki_bulvar_park",
        "mp4",
        "newsml",
        "az",
        "Bakıda Dənizkənarı bulvarda yeni park açıldı",
        "Xəzər sahilində yeni yaşıllıq zonası sakinlərin istifadəsinə verildi; parkda "
        "uşaq meydançaları və velosiped yolları salınıb.",
        "Bakı",
        ("park", "Xəzər", "şəhər"),
        "1. ÜMUMİ bulvar 2. Uşaqlar meydançada 3. SOT sakin (azərbaycanca, 10 san)",
        "mandelbrot",
        392,
    ),
    Sample(
        "AZTV",
        "culture",
        "shusha_xaribulbul",
        "mov",
        "xmp",
        "az",
        "Şuşada Xarıbülbül musiqi festivalı",
        "Muğam ifaçıları Cıdır düzündə çıxış edir; festivala Azərbaycanın və qonşu "
        "ölkələrin musiqiçiləri qatılıb.",
        "Şuşa",
        ("muğam", "festival", "musiqi"),
        "1. ÜMUMİ Cıdır düzü 2. Tarzən 3. SOT xanəndə (azərbaycanca, 12 san)",
        "rgbtestsrc",
        330,
    ),
    Sample(
        "QAZAQ",
        "news",
        "astana_nauryz",
        "mp4",
        "ebucore",
        "kk",
        "Астанада Наурыз мейрамы тойланды",
        "Қазақстан астанасында мерекелік шеру өтті; алаңда киіз үйлер тігіліп, "
        "наурыз көже таратылды.",
        "Астана",
        ("Наурыз", "мереке"),
        "1. ЖАЛПЫ алаң 2. Киіз үйлер 3. SOT тұрғын (қазақша, 9 сек)",
        "testsrc",
        494,
    ),
    Sample(
        "QAZAQ",
        "documentaries",
        "dala_jylqyshylar",
        "mxf",
        "json",
        "kk",
        "Қазақстан даласындағы жылқышылар",
        "Ұлы даладағы жылқышылар өмірі туралы деректі фильм: көктемгі жайылым, "
        "құлындар және дәстүрлі шаруашылық.",
        "Алматы облысы",
        ("жылқы", "дала", "дәстүр"),
        "1. ЖАЛПЫ дала 2. Жылқы үйірі 3. SOT жылқышы (қазақша, 20 сек)",
        "pal75bars",
        587,
    ),
    Sample(
        "MTRK",
        "news",
        "toshkent_metro",
        "mp4",
        "dc",
        "uz",
        "Toshkentda yangi metro bekati ochildi",
        "Oʻzbekiston poytaxtida Yunusobod yoʻnalishining yangi bekati yoʻlovchilarni "
        "qabul qila boshladi.",
        "Toshkent",
        ("metro", "transport"),
        "1. UMUMIY bekat 2. Poyezd keladi 3. SOT yoʻlovchi (oʻzbekcha, 7 son)",
        "testsrc2",
        659,
    ),
    Sample(
        "MTRK",
        "radio",
        "samarqand_registon",
        "audio",
        "json",
        "uz",
        "Samarqand: Registon maydoni haqida radio hikoya",
        "Registon maydoni, Ulugʻbek, Sherdor va Tillakori madrasalari tarixi haqida "
        "oʻzbek tilidagi audio hikoya.",
        "Samarqand",
        ("Registon", "tarix", "radio"),
        tone=349,
    ),
    Sample(
        "KTRK",
        "news",
        "bishkek_nooruz",
        "mp4",
        "xmp",
        "ky",
        "Бишкекте Нооруз майрамы белгиленди",
        "Ала-Тоо аянтында майрамдык концерт өттү; Кыргызстандын ар кайсы "
        "аймактарынан келген өнөрпоздор катышты.",
        "Бишкек",
        ("Нооруз", "майрам"),
        "1. ЖАЛПЫ аянт 2. Концерт 3. SOT көрүүчү (кыргызча, 9 сек)",
        "smptehdbars",
        698,
    ),
    Sample(
        "KTRK",
        "sport",
        "kochmon_oyundary",
        "mov",
        "ebucore",
        "ky",
        "Ысык-Көлдө Дүйнөлүк көчмөндөр оюндары ачылды",
        "Көк бөрү жана эр сайыш боюнча мелдештер башталды; Кыргызстандын "
        "курама командасы биринчи оюнда жеңди.",
        "Чолпон-Ата",
        ("көк бөрү", "спорт"),
        "1. ЖАЛПЫ ипподром 2. Көк бөрү 3. SOT машыктыруучу (кыргызча, 11 сек)",
        "testsrc",
        784,
    ),
    Sample(
        "MTVA",
        "news",
        "budapest_arviz",
        "mp4",
        "dc",
        "hu",
        "Árvíz a Dunán: Budapesten lezárták az alsó rakpartot",
        "A Duna vízszintje tovább emelkedik; a fővárosban homokzsákokkal védekeznek, "
        "a hajóforgalmat korlátozták.",
        "Budapest",
        ("árvíz", "Duna", "időjárás"),
        "1. TOTÁL rakpart 2. Homokzsákok 3. SOT polgármester (magyar, 14 mp)",
        "pal100bars",
        880,
    ),
    Sample(
        "MTVA",
        "radio",
        "zeneakademia_hegedu",
        "audio",
        "newsml",
        "hu",
        "Hegedűverseny a Zeneakadémián",
        "Fiatal magyar hegedűművészek koncertje Budapesten; Bartók és Kodály művei csendültek fel.",
        "Budapest",
        ("hegedű", "komolyzene"),
        tone=440,
    ),
)
