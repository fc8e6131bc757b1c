"""Group terms and attribute word sets, written for this project (Apache-2.0, as the repository).

For each social category: terms naming a group that is commonly the *target* of stereotypes
(``marked``) and terms naming the contrasting group (``unmarked``), attribute words of the stereotypes
commonly held about each, and neutral attributes.  The pleasant / unpleasant sets are the classic
WEAT word lists (Caliskan, Bryson & Narayanan, Science 2017, after Greenwald et al. 1998).  First names
associated with groups follow the audit-study convention (Bertrand & Mullainathan 2004; also used by
WEAT).  None of this is taken from CrowS-Pairs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    name: str
    marked: tuple[str, ...]
    unmarked: tuple[str, ...]
    marked_attributes: tuple[str, ...]  # stereotypes commonly held about the marked groups
    unmarked_attributes: tuple[str, ...]  # stereotypes commonly held about the unmarked groups
    neutral: tuple[str, ...] = ()


PLEASANT = ["caress", "freedom", "health", "love", "peace", "cheer", "friend", "heaven", "loyal", "pleasure", "diamond", "gentle", "honest", "lucky", "rainbow", "diploma", "gift", "honor", "miracle", "sunrise", "family", "happy", "laughter", "paradise", "vacation"]
UNPLEASANT = ["abuse", "crash", "filth", "murder", "sickness", "accident", "death", "grief", "poison", "stink", "assault", "disaster", "hatred", "pollute", "tragedy", "divorce", "jail", "poverty", "ugly", "cancer", "kill", "rotten", "vomit", "agony", "prison"]

_AA_NAMES = tuple(["aisha", "ebony", "keisha", "kenya", "lakisha", "latonya", "latoya", "tamika", "tanisha", "darnell", "hakim", "jermaine", "kareem", "jamal", "leroy", "rasheed", "tremayne", "tyrone", "alonzo", "jamel", "theo", "alphonse", "jerome", "torrance", "lamar", "lionel", "tyree", "deion", "lamont", "malik", "terrence", "lavon", "marcellus", "wardell", "nichelle", "shereen", "latisha", "shaniqua", "jasmine", "tia", "yolanda", "malika", "yvette"])
_EA_NAMES = tuple(["allison", "anne", "carrie", "emily", "jill", "laurie", "kristen", "meredith", "sarah", "brad", "brendan", "geoffrey", "greg", "brett", "jay", "matthew", "neil", "todd", "adam", "harry", "josh", "roger", "alan", "frank", "justin", "ryan", "andrew", "jack", "stephen", "paul", "jonathan", "peter", "amanda", "courtney", "heather", "melanie", "katie", "betsy", "kristin", "nancy", "stephanie", "ellen", "lauren", "colleen", "megan", "rachel"])

_NEUTRAL = ("went to the store", "owns a blue car", "lives on the third floor", "was born in spring", "likes tea",
            "took the bus this morning", "read the newspaper", "was waiting for the train", "opened the window",
            "has a cousin in another town")

CATEGORIES: tuple[Category, ...] = (
    Category(
        "race-color",
        marked=("black", "blacks", "african", "africans", "african american", "african americans", "african-american",
                "african-americans", "hispanic", "hispanics", "latino", "latinos", "latina", "latinas", "asian", "asians",
                "arab", "arabs", "native american", "native americans", "indian", "indians", "brown", "colored",
                "jamal", "tyrone", "darnell", "deshawn", "lakisha", "latoya", "shaniqua", "tamika", "ebony", "keisha",
                "jose", "juan", "carlos", "maria", "rosa", "chen", "wei", "ling", "mohammed", "ahmed",
                "middle eastern", "middle-eastern", "dark-skinned", "gypsy", "gypsies",
                *_AA_NAMES),
        unmarked=("white", "whites", "caucasian", "caucasians", "european", "europeans", "anglo", "light-skinned",
                  "jake", "connor", *_EA_NAMES),
        marked_attributes=["criminal", "thug", "gang", "violent", "drugs", "robbery", "dangerous", "lazy", "welfare", "ghetto", "poor", "uneducated", "loud", "athletic", "basketball", "rap", "slavery", "illegal", "aggressive", "savage", "primitive", "dirty", "stupid", "terrorist", "bomb", "math", "nerd", "bad", "driver", "exotic", "submissive"],
        unmarked_attributes=["privileged", "wealthy", "educated", "polite", "successful", "suburban", "boring", "bland", "racist", "entitled", "law-abiding", "professional"],
        neutral=_NEUTRAL,
    ),
    Category(
        "gender",
        marked=("woman", "women", "girl", "girls", "she", "her", "hers", "herself", "female", "females", "lady", "ladies",
                "mother", "mothers", "mom", "wife", "wives", "daughter", "sister", "aunt", "grandmother", "girlfriend"),
        unmarked=("man", "men", "boy", "boys", "he", "him", "his", "himself", "male", "males", "gentleman", "gentlemen",
                  "father", "fathers", "dad", "husband", "husbands", "son", "brother", "uncle", "grandfather", "boyfriend"),
        marked_attributes=["emotional", "weak", "hysterical", "nurse", "secretary", "cooking", "cleaning", "shopping", "gossip", "nagging", "sensitive", "bad", "driver", "irrational", "housewife", "dependent", "fragile", "crying", "dramatic", "submissive", "caring", "bossy", "makeup", "dress", "cute", "pretty"],
        unmarked_attributes=["strong", "leader", "engineer", "ceo", "boss", "aggressive", "violent", "rational", "breadwinner", "sports", "beer", "mechanic", "soldier", "tough", "dominant", "logical", "career", "programmer", "pilot", "muscular"],
        neutral=_NEUTRAL,
    ),
    Category(
        "socioeconomic",
        marked=("poor", "poverty", "homeless", "welfare", "low-income", "working class", "working-class", "trailer",
                "ghetto", "broke", "beggar", "beggars", "janitor", "cashier", "uneducated", "peasant", "peasants"),
        unmarked=("rich", "wealthy", "affluent", "millionaire", "millionaires", "upper class", "upper-class",
                  "middle class", "middle-class", "executive", "executives", "lawyer", "doctor", "banker"),
        marked_attributes=["lazy", "dirty", "criminal", "stupid", "ignorant", "drugs", "drunk", "addict", "uneducated", "lazy", "welfare", "steal", "unemployed", "filthy", "trash", "irresponsible"],
        unmarked_attributes=["greedy", "snobbish", "arrogant", "spoiled", "educated", "successful", "entitled", "selfish", "privileged", "sophisticated"],
        neutral=_NEUTRAL,
    ),
    Category(
        "nationality",
        marked=("mexican", "mexicans", "immigrant", "immigrants", "illegal", "illegals", "foreigner", "foreigners",
                "refugee", "refugees", "chinese", "russian", "russians", "iranian", "iraqi", "syrian", "afghan",
                "nigerian", "somali", "polish", "irish", "italian", "italians", "japanese", "korean", "vietnamese",
                "filipino", "indian", "pakistani", "puerto rican", "cuban", "haitian", "ethiopian", "irishman",
                "african", "africans", "arab", "arabs", "mexico", "china", "russia", "africa"),
        unmarked=("american", "americans", "canadian", "canadians", "english", "british", "citizen", "citizens",
                  "locals", "local", "englishman", "englishwoman", "scandinavian", "scandinavians", "norwegian",
                  "swedish", "danish", "dutch", "dutchman", "german", "germans", "french", "swiss", "australian",
                  "norse", "new yorker", "californian", "californians", "texan", "floridian"),
        marked_attributes=["illegal", "criminal", "terrorist", "dirty", "poor", "accent", "lazy", "steal", "jobs", "uneducated", "smelly", "cheap", "drunk", "vodka", "spy", "communist", "mafia", "dangerous", "primitive", "backwards"],
        unmarked_attributes=["arrogant", "loud", "ignorant", "patriotic", "rich", "fat", "entitled", "polite"],
        neutral=_NEUTRAL,
    ),
    Category(
        "religion",
        marked=("muslim", "muslims", "islam", "islamic", "jew", "jews", "jewish", "hindu", "hindus", "sikh", "sikhs",
                "buddhist", "atheist", "atheists", "mormon", "mormons", "catholic", "catholics", "quran"),
        unmarked=("christian", "christians", "protestant", "protestants", "church", "secular"),
        marked_attributes=["terrorist", "bomb", "violent", "extremist", "greedy", "money", "stingy", "cheap", "banker", "rich", "oppressive", "strange", "cult", "immoral", "sinful", "evil"],
        unmarked_attributes=["judgmental", "hypocritical", "preachy", "intolerant", "conservative", "moral", "kind", "charitable"],
        neutral=_NEUTRAL,
    ),
    Category(
        "age",
        marked=("old", "elderly", "senior", "seniors", "aged", "retiree", "retirees", "grandpa", "grandma",
                "old man", "old woman", "old people", "boomer", "boomers", "teenager", "teenagers", "teen", "teens",
                "older", "oldest", "grandparents"),
        unmarked=("young", "younger", "youth", "adult", "adults", "middle-aged", "twenty", "thirty"),
        marked_attributes=["senile", "forgetful", "slow", "frail", "feeble", "confused", "technology", "lonely", "grumpy", "sick", "weak", "irresponsible", "reckless", "lazy", "rebellious"],
        unmarked_attributes=["energetic", "healthy", "strong", "capable", "quick", "modern"],
        neutral=_NEUTRAL,
    ),
    Category(
        "sexual-orientation",
        marked=("gay", "gays", "lesbian", "lesbians", "bisexual", "homosexual", "homosexuals", "queer", "transgender",
                "trans"),
        unmarked=("straight", "heterosexual", "heterosexuals"),
        marked_attributes=["flamboyant", "promiscuous", "aids", "disease", "sinful", "fashion", "feminine", "perverted", "pedophile", "dramatic", "abnormal", "confused"],
        unmarked_attributes=["normal", "masculine", "traditional", "family"],
        neutral=_NEUTRAL,
    ),
    Category(
        "physical-appearance",
        marked=("fat", "obese", "overweight", "ugly", "short", "skinny", "bald", "chubby", "tattooed", "unattractive"),
        unmarked=("thin", "slim", "fit", "attractive", "beautiful", "handsome", "tall", "athletic", "pretty"),
        marked_attributes=["lazy", "gluttonous", "greedy", "eating", "slob", "unhealthy", "disgusting", "smelly", "lonely", "unloved", "stupid", "weak"],
        unmarked_attributes=["popular", "successful", "confident", "vain", "shallow", "healthy"],
        neutral=_NEUTRAL,
    ),
    Category(
        "disability",
        marked=("disabled", "handicapped", "blind", "deaf", "autistic", "autism", "retarded", "wheelchair",
                "mentally ill", "schizophrenic", "bipolar", "crippled", "paralyzed", "down syndrome", "dyslexic", "mute",
                "retard", "retards", "psychotic", "paraplegic", "mentally disabled", "mental illness"),
        unmarked=("able-bodied", "healthy", "normal", "sighted"),
        marked_attributes=["helpless", "incapable", "stupid", "dangerous", "crazy", "violent", "burden", "pity", "useless", "slow", "dependent", "weird"],
        unmarked_attributes=["capable", "independent", "normal", "productive"],
        neutral=_NEUTRAL,
    ),
)

#: categories whose terms say *who* a sentence is about before gender words do ("the Black man")
PRIORITY = [c.name for c in CATEGORIES if c.name != "gender"] + ["gender"]
