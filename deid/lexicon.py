"""Word lists the recognizers share: names, places, title cues, eponyms, hospital words.

Name and place lists come from Faker's locale providers (public-domain/census-derived name lists shipped with
the package) plus curated lists below; they are read once per process.
"""

from __future__ import annotations

import importlib
from functools import cache

_NAME_LOCALES = ("no_NO", "sv_SE", "fi_FI", "et_EE", "da_DK", "en_US", "en_GB")
_CITY_LOCALES = ("sv_SE", "fi_FI", "da_DK")

TITLE_CUES: tuple[str, ...] = (
    # English
    "dr", "dr.", "doctor", "prof", "prof.", "professor", "nurse", "mr", "mr.", "mrs", "mrs.", "ms", "ms.",
    "patient", "consultant", "physician", "surgeon", "midwife",
    # Norwegian / Danish
    "lege", "legen", "overlege", "overlegen", "lis-lege", "turnuslege", "fastlege", "fastlegen", "sykepleier",
    "sykepleieren", "spesialsykepleier", "jordmor", "pasient", "pasienten", "læge", "lægen", "overlæge",
    "overlægen", "reservelæge", "sygeplejerske", "sygeplejersken", "praktiserende", "hr.", "fru", "frk.",
    "hustru", "ektefelle", "datter", "sønn", "søn", "kone", "mann", "far", "mor", "pårørende",
    # Swedish
    "läkare", "läkaren", "överläkare", "överläkaren", "specialistläkare", "sjuksköterska", "sjuksköterskan",
    "undersköterska", "barnmorska", "patient", "patienten", "dotter", "son", "make", "maka", "anhörig",
    # Finnish
    "lääkäri", "lääkäri", "ylilääkäri", "erikoislääkäri", "sairaanhoitaja", "hoitaja", "potilas", "omainen",
    "tytär", "poika", "puoliso", "kätilö", "osastonlääkäri",
    # Estonian
    "arst", "arsti", "raviarst", "peaarst", "õde", "patsient", "patsiendi", "pereõde", "perearst", "perearsti",
    "tütar", "poeg", "abikaasa", "ämmaemand",
)
"""Words (lower case) after which a capitalised word is a person's name."""

EPONYMS: frozenset[str] = frozenset(
    """Addison Alzheimer Alport Angelman Asperger Barré Batten Becker Behçet Bell Bruton Burkitt Canavan Charcot
    Chagas Creutzfeldt Crohn Cushing Danlos Down Duchenne Dupuytren Ehlers Ewing Fabry Fallot Fanconi Friedreich
    Gaucher Gehrig Gilbert Graves Guillain Hashimoto Hirschsprung Hodgkin Huntington Hurler Jakob Kaposi Kawasaki
    Klinefelter Krabbe Leber Lesch Lindau Lou Lyme Marfan Menkes Meniere Ménière Niemann Nyhan Paget Parkinson
    Peyronie Pick Prader Raynaud Refsum Reiter Rett Sachs Sjögren Sjøgren Stargardt Still Tay Tourette Turner
    Usher Waldenström Wegener Wernicke Korsakoff Whipple Willebrand Willi Wilms Wilson Wiskott Aldrich Zellweger
    Hippel Bechterew Bekhterev Apgar Babinski Glasgow Gram Lasègue Romberg Trendelenburg Barrett Baker Bartholin
    Dandy Walker Arnold Chiari Kahler Kussmaul Hunter Hutchinson Horner Legg Calvé Perthes Osgood Schlatter
    Sheehan Stevens Johnson Stokes Adams Takayasu Tietze Treacher Collins Von Recklinghausen Zollinger Ellison
    Cowden Lynch Peutz Jeghers Gardner Turcot Muir Torre Li Fraumeni Diamond Blackfan Bloom Cockayne Werner
    Seckel Noonan Costello Sotos Weaver Beckwith Wiedemann Smith Lemli Opitz Coffin Lowry Siris Cornelia Lange
    Emery Dreifuss Kennedy Kugelberg Welander Werdnig Hoffmann Pompe McArdle Tarui Hers Andersen Forbes Cori
    Sanfilippo Morquio Maroteaux Lamy Sly Hurler Scheie Wolman Farber Sandhoff Hermansky Pudlak Chediak Higashi
    Glanzmann Bernard Soulier Kasabach Merritt Klippel Trenaunay Weber Sturge Osler Rendu Dubin Crigler Najjar
    Gilles Tourette Ménétrier Mallory Weiss Boerhaave Zenker Schatzki Plummer Vinson Hartnup Liddle Bartter
    Gitelman Conn Nelson Kallmann Laron Kearns Sayre Leigh Alexander Pelizaeus Merzbacher Aicardi Goutières
    Lennox Gastaut West Dravet Landau Kleffner Rasmussen Unverricht Lundborg Lafora Batten Kufs""".split()
)
"""Surnames that name diseases, signs and scores: never a PERSON when followed by a disease word."""

DISEASE_HEADS: tuple[str, ...] = (
    "disease", "diseases", "syndrome", "syndromes", "dystrophy", "anemia", "anaemia", "ataxia", "chorea",
    "sarcoma", "lymphoma", "tumor", "tumour", "palsy", "disorder", "deficiency", "dementia", "neuropathy",
    "sclerosis", "atrophy", "carcinoma", "ulcer", "esophagus", "oesophagus", "sign", "score", "scale",
    "phenomenon", "reflex", "test", "type", "variant", "thyroiditis", "cells", "cell", "myopathy", "arthritis",
    "sykdom", "sykdommen", "syndrom", "syndromet", "sjukdom", "sjukdomen", "sygdom", "sygdommen", "syndromet",
    "tauti", "taudin", "taudissa", "oireyhtymä", "tõbi", "tõve", "sündroom", "demens", "demenssi", "dementia",
    "lymfom", "lymfooma", "sarkom", "sarkooma", "fever", "infection", "infections", "meningitis", "mutation",
    "mutations", "gene", "genes", "protein", "locus", "allele", "alleles", "kinase", "receptor",
)
"""Words that, after a capitalised surname, make it a disease eponym (``Parkinson disease``)."""

HOSPITAL_WORDS: tuple[str, ...] = (
    "universitetssykehus", "universitetssjukehus", "universitetssjukhus", "universitetshospital", "sykehus",
    "sjukehus", "sjukhus", "sygehus", "hospital", "hospitalet", "klinikk", "klinikken", "klinik",
    "kliniken", "klinikum", "kliinikum", "kliinik", "keskussairaala", "sairaala", "terveyskeskus", "terveysasema",
    "haigla", "keskhaigla", "regionaalhaigla", "legesenter", "legekontor", "lægehus", "vårdcentral",
    "vårdcentralen", "helsesenter", "helsestasjon", "perearstikeskus", "tervisekeskus", "medical center",
    "infirmary", "sairaalan", "haiglas",
)
"""Words (or word endings) that make a capitalised phrase the name of a hospital or clinic."""

ORG_CONNECTORS: frozenset[str] = frozenset(
    {"yliopistollinen", "yliopistollisen", "yliopistollisessa", "yliopistolliseen", "keskus", "ülikooli",
     "universitetssykehus", "universitetssjukhuset", "general", "university", "universitets", "de", "of", "the",
     "st.", "sankt", "s:t", "hf"}
)
"""Lower-case words allowed inside a hospital name between its capitalised words and the hospital word."""

NOT_NAMES: frozenset[str] = frozenset(
    """The This That These Those There Here He She His Her They We You I It Patient Pasient Patienten Pasienten
    Potilas Patsient Diagnose Diagnos Diagnoosi Diagnoos Diagnosis Status Plan Vurdering Bedömning Arvio Hinnang
    Anamnese Anamnes Anamneesi Anamnees Tlf Tel Telefon Puh Puhelin Mob Mobil Email Epost E-post Adresse Adress
    Osoite Aadress Dato Datum Päivämäärä Kuupäev Date Age Alder Ålder Ikä Vanus Kontroll Kontrolli Kontrol
    Epikrise Epikris Epikriisi Epikriis Journal Journalnr Sykehus Sjukhus Sygehus Sairaala Haigla Hospital Lege
    Läkare Læge Lääkäri Arst Han Hun Hon Den Det Hen Hän Tema Ta Han Hans Hennes Ingen Ikke Inte Ei Ei Mitte
    Januar Februar Mars April Mai Juni Juli August September Oktober November Desember December Maj Marts
    Kontakt Kontakta Ring Klinikk Klinik Avdeling Avdelning Afdeling Osasto Osakond Med Ved Vid Til Till For För
    Og Och Eller And Or Ja Nej Nei Kyllä Jah Ei Not No Yes Mr Mrs Ms Dr Prof Overlege Överläkare Overlæge
    Ylilääkäri Peaarst Sykepleier Sjuksköterska Sygeplejerske Sairaanhoitaja Õde Mor Far Bror Søster Syster
    Kone Mann Make Maka Hustru Parkinson Alzheimer Huntington Duchenne Crohn Hodgkin Down""".split()
)
"""Capitalised words that are never a name on their own (sentence starters, headings, months, eponyms)."""

COUNTRIES: frozenset[str] = frozenset(
    """Norway Norge Noreg Sweden Sverige Denmark Danmark Finland Suomi Estonia Eesti Eestis Latvia Lithuania
    Iceland Island Germany Tyskland Saksa Saksamaa Europe Europa Eurooppa Euroopa America USA UK England
    Britain France Frankrike Spain Spania Russia Russland Ryssland Venäjä Venemaa China Japan India Africa
    Asia Scandinavia Skandinavia Nordic Norden""".split()
)
"""Country and region names: not PHI (HIPAA and GDPR recitals treat them as too coarse to identify)."""

NATIONALITIES: frozenset[str] = frozenset(
    """English American Americans European Europeans African Asian Caucasian Caucasians Hispanic Jewish Jews
    Ashkenazi Mediterranean Arab Arabic Finnish Finns Swedish Swedes Norwegian Norwegians Danish Danes Estonian
    Estonians Nordic Scandinavian Japanese Chinese Indian Latin Latino Greek German French Italian Spanish Dutch
    Irish Scottish British Russian Polish Turkish Amish Mennonite Hutterite Bedouin Sardinian Sardinians
    Icelandic Saami Sami North South East West Northern Southern Eastern Western Central""".split()
)
"""Nationality, ethnicity and direction words: not a person or a place on their own."""

MEDICAL_SUFFIXES: tuple[str, ...] = (
    "pathy", "itis", "oma", "emia", "aemia", "osis", "plasia", "trophy", "algia", "uria", "ectomy", "otomy",
    "ceae", "coccus", "bacter", "bacteria", "virus", "ase", "ine", "opathy", "philia", "penia", "genesis",
)
"""Word endings of disease, procedure, organism and molecule names (``Adrenomyeloneuropathy``)."""

NORDIC_CITIES: tuple[str, ...] = (
    # Norway
    "Oslo", "Bergen", "Trondheim", "Stavanger", "Drammen", "Fredrikstad", "Kristiansand", "Sandnes", "Tromsø",
    "Sarpsborg", "Skien", "Ålesund", "Sandefjord", "Haugesund", "Tønsberg", "Bodø", "Arendal", "Hamar",
    "Larvik", "Halden", "Lillehammer", "Molde", "Harstad", "Gjøvik", "Kongsberg", "Porsgrunn", "Narvik",
    "Steinkjer", "Alta", "Hammerfest", "Kirkenes", "Elverum", "Førde", "Levanger", "Namsos", "Mo i Rana",
    # Sweden
    "Stockholm", "Göteborg", "Malmö", "Uppsala", "Västerås", "Örebro", "Linköping", "Helsingborg", "Jönköping",
    "Norrköping", "Lund", "Umeå", "Gävle", "Borås", "Södertälje", "Eskilstuna", "Halmstad", "Växjö", "Karlstad",
    "Sundsvall", "Luleå", "Trollhättan", "Östersund", "Kalmar", "Falun", "Skövde", "Kristianstad", "Visby",
    "Kiruna", "Skellefteå", "Örnsköldsvik", "Varberg", "Uddevalla", "Nyköping",
    # Denmark
    "København", "Copenhagen", "Aarhus", "Århus", "Odense", "Aalborg", "Ålborg", "Esbjerg", "Randers",
    "Kolding", "Horsens", "Vejle", "Roskilde", "Herning", "Hørsholm", "Helsingør", "Silkeborg", "Næstved",
    "Fredericia", "Viborg", "Køge", "Holstebro", "Slagelse", "Hillerød", "Svendborg", "Hjørring", "Sønderborg",
    "Frederikshavn", "Glostrup", "Herlev", "Hvidovre", "Gentofte", "Frederiksberg", "Skive", "Thisted",
    # Finland
    "Helsinki", "Helsingfors", "Espoo", "Tampere", "Vantaa", "Oulu", "Turku", "Åbo", "Jyväskylä", "Lahti",
    "Kuopio", "Pori", "Kouvola", "Joensuu", "Lappeenranta", "Hämeenlinna", "Vaasa", "Seinäjoki", "Rovaniemi",
    "Mikkeli", "Kotka", "Salo", "Porvoo", "Kokkola", "Hyvinkää", "Lohja", "Järvenpää", "Rauma", "Kajaani",
    "Kerava", "Savonlinna", "Nokia", "Kemi", "Tornio", "Iisalmi", "Raahe",
    # Estonia
    "Tallinn", "Tartu", "Narva", "Pärnu", "Kohtla-Järve", "Viljandi", "Maardu", "Rakvere", "Kuressaare",
    "Sillamäe", "Valga", "Võru", "Jõhvi", "Haapsalu", "Keila", "Paide", "Türi", "Elva", "Põlva", "Rapla",
    "Jõgeva", "Kärdla", "Saue", "Otepää",
)
"""Cities and towns of the five countries (public gazetteer facts, for LOCATION and address cities)."""

FINNISH_CITY_FORMS: dict[str, tuple[str, ...]] = {
    "Helsinki": ("Helsingissä", "Helsingistä", "Helsinkiin", "Helsingin"),
    "Turku": ("Turussa", "Turusta", "Turkuun", "Turun"),
    "Tampere": ("Tampereella", "Tampereelta", "Tampereelle", "Tampereen"),
    "Lahti": ("Lahdessa", "Lahdesta", "Lahteen", "Lahden"),
    "Jyväskylä": ("Jyväskylässä", "Jyväskylästä", "Jyväskylään", "Jyväskylän"),
    "Hämeenlinna": ("Hämeenlinnassa", "Hämeenlinnasta", "Hämeenlinnaan", "Hämeenlinnan"),
    "Kotka": ("Kotkassa", "Kotkasta", "Kotkaan", "Kotkan"),
    "Joensuu": ("Joensuussa", "Joensuusta", "Joensuuhun", "Joensuun"),
    "Vaasa": ("Vaasassa", "Vaasasta", "Vaasaan", "Vaasan"),
}
"""Irregular (consonant-gradation) case forms of Finnish cities; regular ones are caught by suffix rules."""

FINNISH_CASE_ENDINGS: tuple[str, ...] = ("ssa", "ssä", "sta", "stä", "lla", "llä", "lta", "ltä", "n", "an", "än")
ESTONIAN_CASE_ENDINGS: tuple[str, ...] = ("s", "st", "sse", "ga", "le", "lt", "l", "i")


def _provider_attr(kind: str, locale: str, attr: str) -> list[str]:
    try:
        module = importlib.import_module(f"faker.providers.{kind}.{locale}")
    except ImportError:
        return []
    value = getattr(module.Provider, attr, None)
    if value is None:
        return []
    return [str(v) for v in value]


@cache
def stop_words() -> frozenset[str]:
    """Function words of the six languages (spaCy's lists), capitalised forms included."""
    words: set[str] = set()
    for lang in ("en", "nb", "sv", "da", "fi", "et"):
        module = importlib.import_module(f"spacy.lang.{lang}.stop_words")
        words.update(module.STOP_WORDS)
    return frozenset(words | {w.capitalize() for w in words})


@cache
def first_names() -> frozenset[str]:
    """Given names of the five countries and English (Faker's locale lists)."""
    names: set[str] = set()
    for locale in _NAME_LOCALES:
        names.update(_provider_attr("person", locale, "first_names"))
    return frozenset(n for n in names if len(n) > 1 and n not in NOT_NAMES)


@cache
def last_names() -> frozenset[str]:
    """Family names of the five countries and English (Faker's locale lists)."""
    names: set[str] = set()
    for locale in _NAME_LOCALES:
        names.update(_provider_attr("person", locale, "last_names"))
    return frozenset(n for n in names if len(n) > 1 and n not in NOT_NAMES and n not in EPONYMS)


@cache
def cities() -> frozenset[str]:
    """Town and city names: the curated list plus Faker's Swedish, Finnish and Danish city lists."""
    out: set[str] = set(NORDIC_CITIES)
    for locale in _CITY_LOCALES:
        out.update(_provider_attr("address", locale, "cities"))
    return frozenset(c for c in out if len(c) > 2 and c not in NOT_NAMES and c not in COUNTRIES)
