"""Hand-written English and Chinese reviews on two topics: guitar strings and microphones."""

STRINGS_EN = [
    "These guitar strings sound bright and stay in tune for weeks.",
    "Great acoustic strings, warm tone and easy on the fingers.",
    "The strings broke after two days, the high E snapped while tuning.",
    "Nice set of electric guitar strings, smooth and long lasting.",
]
MICS_EN = [
    "This microphone picks up vocals clearly with very little background noise.",
    "The condenser mic needs phantom power but records podcasts beautifully.",
    "Cheap microphone, the cable hums and the voice sounds muffled.",
    "Good dynamic mic for live singing, it handles feedback well.",
]
STRINGS_ZH = [
    "这套吉他琴弦音色明亮，调好音以后很久都不跑音。",
    "琴弦手感顺滑，弹起来不疼手，声音很温暖。",
    "琴弦用了两天就断了，调音的时候一弦崩断。",
]
MICS_ZH = [
    "这个麦克风录人声非常清楚，几乎没有底噪。",
    "电容麦克风需要幻象电源，录播客效果很好。",
    "麦克风线有电流声，录出来的声音发闷。",
]
