"""Sentiment word lists for the ten supported languages, folded (no diacritics, lower-case).

Entries are single words, phrases joined by '_' ("fed_up"), or stems ending in '*' (for
inflected languages such as Polish, where one profanity has dozens of forms).
"""

from __future__ import annotations

from dataclasses import dataclass


def _entries(text: str) -> list[str]:
    return text.split()


@dataclass(frozen=True)
class Lexicon:
    words: frozenset[str]
    phrases: tuple[tuple[str, ...], ...]
    stems: tuple[str, ...]

    @classmethod
    def of(cls, text: str) -> Lexicon:
        words, phrases, stems = set(), [], []
        for e in _entries(text):
            if e.endswith("*"):
                stems.append(e[:-1])
            elif "_" in e:
                phrases.append(tuple(e.split("_")))
            else:
                words.add(e)
        return cls(frozenset(words), tuple(phrases), tuple(stems))

    def hits(self, toks: tuple[str, ...]) -> list[int]:
        """Token indices where an entry starts."""
        out = [i for i, t in enumerate(toks) if t in self.words or t.startswith(self.stems)]
        for ph in self.phrases:
            n = len(ph)
            out.extend(i for i in range(len(toks) - n + 1) if toks[i : i + n] == ph)
        return out


NEGATIONS = frozenset(
    _entries(
        """
aldrig belum bukan cannot cant didnt doesnt dont ej enggak ga gak geen ingen inget inte isnt
jamais jangan kein keine mai nada nao ne nem never nggak ni nicht nie niemals niet nigdy no
nobody non nooit not nothing nunca pas rien tak tidak wasnt wont zaden zadna
"""
    )
)

NEGATIVE = Lexicon.of(
    """
angry annoyed appalling arg argerlich arnaque arrabbiato awful bad besviken besvikna bohong
boos buruk cattivo dalig daliga decepcionado decu decue deluso disappointed disappointing
disgusting dramat enttauscht estafa farto fatalnie fatalny fed frech frustrated frustrating
furieux harta harto hate horrible inacceptable inaccettabile inaceitavel inaceptable
inadmissible inakzeptabel incompetent irritado irriterad jelek joke katastrophe kecewa kesal
keterlaluan koszmar liar lied mala malo marah marre masakra mauvais mengecewakan missnojd
never nightmare nul nyebelin oacceptabelt of onacceptabel oplichting parah pathetic payah
penipu pesimo pessimo poor ridiculous rude ruim scam schlecht sebel shocking sick skandal
slecht still stufo teleurgesteld terrible tipu tragedia truffa unacceptable unhappy
unverschamt up usel useless varst waardeloos waiting waste worst wutend zla zle zly fed_up
sick_of still_waiting no_one not_working doesnt_work tidak_bisa belum_sampai mam_dosc
nie_dziala fungerar_inte funktioniert_nicht no_funciona ne_marche_pas werkt_niet
nao_funciona non_funziona har_fatt_nog dalig* vardelos* bedrovlig* hemsk* beznadziejn*
rozczarowan* wkurzon* zdenerwowan* niedopuszczaln* nieakceptowaln* oszust* niezadowolon*
tragiczn* mies* betrug* decepcionad* enfadad*
"""
)

STRONG_NEGATIVE = Lexicon.of(
    """
abogado advocaat advogado advokat anwalt appalling avocat avvocato disgrace disgusting
furious hanba lawsuit lawyer memalukan outrageous peggiore pengacara penipuan peor pior pire
prawnik scam scandaleux schlimmste skandalos slechtste terburuk varsta vergogna worst
najgorsz* zenujac*
"""
)

POSITIVE = Lexicon.of(
    """
amazing appreciate awesome bagus bedankt bom bon bra brilliant bueno buono content contente
contento dank danke dobry dobrze dzieki dziekuje excelente excellent fantastic fantastisk
genial geweldig goed good gracias grazie great gut happy hebat helpful idealnie keren love
makasih mantap membantu merci nice nojd obrigada obrigado otimo ottimo parfait perfect
perfecto perfeito perfekt perfetto puas senang super swietnie tack terima tevreden thank
thanks toll toppen underbar wonderful zufrieden zadowolon*
"""
)

PROFANITY = Lexicon.of(
    """
anjing asu bajingan bangsat bego bloody bordel brengsek bullshit caralho cazzo cholera crap
damn ffs fitta gilipollas goblok godverdomme helvete hostia jancuk joder kampret klote kurde
kut merda merde mierda porra putain shit tai taik tering tolol vaffanculo verdammt wtf fuck*
shit* bastard* asshole* piss* dick* bitch* javla* javl* skit* kuk* satan* kurw* kurwa*
pierdol* spierdal* jeb* chuj* huj* gowno* dupa* scheiss* schei* arsch* puta* cabron*
connard* foda* stronz*
"""
)
