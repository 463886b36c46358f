"""Customer-service sentiment: VADER plus a domain lexicon and phrase rules.

Raw VADER reads "support transferred me three times ... Never again. Terrible service."
as positive and "this jacket is sick" as negative. A desk needs the stakes of a post
(money, safety, legal or regulator threats, leaving or going public, repeated failed
contacts, privacy, a hacked account) to read as negative even when the words around them
are polite, and slang or negated complaints used as praise not to.

How it works, and why it stays cheap (the ingest pipeline scores every mention):

- one VADER pass, never two, and that pass skips VADER's character-by-character emoji
  rewrite when the text holds no emoji (same numbers, about 4 µs sooner; see
  ``_polarity``);
- the text is lowercased once and scanned once by a single precompiled regex, a trie of
  every lexicon term (``\\b`` + a prefix tree runs in a few microseconds, where a flat
  case-insensitive alternation costs more than VADER itself); each hit maps to a kind
  and a weight through a dict;
- two more tiny scans, only when they can match: money amounts and praise emoji.

Measured on the dev corpus and the demo feed, ``score_many`` runs at about 0.85× the
speed of stock VADER (0.76× without the emoji shortcut).

Besides the stake kinds (STAKE_KINDS) the lexicon has modifiers: ``distress`` (anger,
urgency), ``problem`` (something is wrong, mildly), ``mild`` ("no rush", "minor"),
``praise`` (slang and negated complaints VADER misreads, thanks in other languages),
``positive`` (plain praise), ``sarcasm``, ``resolved``, ``spam``, ``foreign`` (function
words of de/es/fr/it: VADER's score is damped there), ``other_person`` + ``pii``
(together: someone else's personal data) and ``neutral`` (longer phrases that shadow a
stake word, "my bank account").

:func:`read` returns the whole reading and :func:`score` its compound. Heat and the
playbook need the stakes again later, often in another process: :func:`stakes` takes the
stored compound as the tone, so it rescans the lexicon (cached) but never reruns VADER.

Stakes come in two strengths. Unambiguous ones ("charged twice", "chargeback", "small
claims", "caught fire", "data leak") count wherever they appear. Ambiguous ones ("lawyer",
"scam", "never again", "cancelled", "refund") count fully only in a post that does not
read as praise; "Lawyer by day ... the staff were lovely" or "Scam? Nope." stay calm.
A post that says the problem went away ("all good now", "refund landed") keeps only a
trace of its stakes.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import NamedTuple

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

# Kinds of stake, as the desk's rubric names them; every other kind is a modifier.
STAKE_KINDS = ("money", "safety", "legal", "press", "leave", "ultimatum", "contacts",
               "privacy", "hacked")
_STAKE_SET = frozenset(STAKE_KINDS)

# kind -> {weight: terms}. A term matches at the start of a word and as a prefix
# ("refund" matches "refunded"); a trailing "$" asks for the end of a word too, and
# "{a,b}" expands to one term per option (several braces multiply). Weights say how
# sure the term alone makes the kind (0..1); terms at or under _WEAK[kind] are
# ambiguous and count only when the post is not calm praise.
_N = "{two,three,four,five,six,seven,2,3,4,5,6,7,several,multiple,numerous,countless}"
_NTH = "{second,third,fourth,fifth,sixth,2nd,3rd,4th,5th,6th}"
_CONTACT = "{call,calls,email,emails,e-mails,message,messages,chat,chats,dm,dms,post,posts}"
_NOBODY = "{no one,no-one,noone,nobody,no1}"
_WAYS = ("emailed", "phoned", "called", "rang", "messaged", "tweeted", "dm'd", "written")
_TRIED_TWO_WAYS = "|".join(f"{a}{sep}{b}" for a in _WAYS for b in _WAYS if a != b
                           for sep in (", ", " and "))  # "emailed, phoned and ..."
_LEXICON: dict[str, dict[float, str]] = {
    "money": {
        0.8: "{charged,billed,debited,paid} twice|{charged,billed,debited} me twice|"
             f"{{charged,billed,debited}} {_N} times|{{charged,billed,debited}} me {_N} times|"
             "double charged|double-charged|double billed|"
             "{two,2,duplicate,double} {payments,charges,debits,transactions} of|"
             "{two,2,duplicate} {identical,separate} {payments,charges,debits}|"
             "{charged,billed,debited,took payment} for the same|"
             "{want,need,give me} {my,that,the,our} money back|"
             "{send,sent,paid,transferred} {it,the money,my money} to the wrong|wrong payee|"
             "to the wrong account|duplicate payment|duplicate charge|"
             "{charged,billed,debited} {me,my card,my account} again|again for the same|"
             "never signed up|didn't sign up|did not sign up|never agreed to|"
             "pay for the {repair,repairs,damage} |cover the {cost,repair,damage}|"
             "can't be located|cannot be located|can't locate them|you've lost my|you lost my|"
             "without my consent|without my permission|"
             "still {come,been taken,gone,come out,being taken,coming out}|rent is due|"
             "rent due|pay my rent|for my rent|"
             "für die miete|mi alquiler|mon loyer|il mio affitto|nunca lleg|"
             "doppelt belastet|zweimal belastet|overdrawn|refund still outstanding|"
             "outstanding refund|where is my {refund,money}|where's my {refund,money}|"
             "want my money|pay me back|no sign of {the,my} {money,refund,£,€,$}|just gone|money's gone|money is gone|money has gone|zero balance|0.00 balance|balance of zero|"
             "been emptied|been drained|after i cancel|after cancelling|despite cancelling|"
             "even though i cancelled|though i'd cancelled|i'd like back|want it back|charged me for|charged for a|wrongly charged|"
             "still charged|charged anyway|overcharged|unauthorised charge|"
             "unauthorized charge|taken money|took money|taken £|taken €|took £|took €|"
             "taken from my account|left my account|out of my account|"
             "out of pocket|owe me|you owe|my rent$|rent money|my bills|mortgage|"
             "can't afford|cannot afford|not been refunded|haven't been refunded|still no refund|"
             "no refund yet|without a refund|refund never|empty box|empty parcel|tampered|"
             "robbed|rip-off|ripped off|stolen|stole|went missing|gone missing|"
             "lost my {parcel,order,package}|no record of|cobrado dos veces|"
             "doppelt abgebucht|zweimal abgebucht|prélevé deux fois|débité deux fois|"
             "addebitato due volte|nie angekommen|nunca llegó|jamás llegó|jamais reçu|"
             "jamais arrivé|mai arrivato|mai ricevuto",
        0.45: "refund|charged|charge me|billed|paid for|compensation|reimburse|"
              "never arrived|not arrived|never received|not received|never came|no refund|"
              "{says,marked,marked as,shows,shows as,showing as} delivered|on my statement|"
              "payment from you|charge from you|belastet|"
              "erstattung|rückerstattung|geld zurück|"
              "reembolso|devolución|remboursement|rimborso|missing|disappeared|balance|"
              "deducted|debited|abgebucht|cobrado|cobro|prélevé|addebit|lost$|my money$|"
              "insurance|dashcam|damaged my|reversed into|hit my car|"
              "money back|fee$|fees$|declined|get it back|charging me|charging my|"
              "two payments|two charges|flooded|in the bin|binned|me cobr|devolv|"
              "without being asked|without asking me|"
             "inondé|überschwemmt|allagat|inundad|"
              "points gone|points have gone|points disappeared",
    },
    "safety": {
        0.9: "caught fire|on fire$|burst into flames|flames|smoking|smoke$|"
             "{burnt,burned,scalded} {my,his,her,their,our} |{burnt,burned} {him,her,me}|"
             "burns$|scorch|melted|melting|exploded|explosion|overheat|too hot to touch|"
             "injur|fractur|broke my {arm,wrist,leg,ankle,nose,finger,toe}|a&e|a & e|"
             "hospital$|hospitals$|hospitalised|hospitalized|emergency room|ambulance|"
             "paramedic|{needed,got,had,needing} stitches|concussion|was bleeding|"
             "started bleeding|bleeding heavily|"
             "allergic reaction|food poisoning|electric shock|electrocut|carbon monoxide|"
             "x-ray|xray|scald|boiling water|boiling tea|boiling coffee|burn on|"
             "anaphyla|epipen|epi-pen|hives$|antihistamine|went into shock|"
             "gas {was,is} leaking|flared up|singed|set {the,my} {porch,tent,kitchen,house} alight|"
             "safety issue|safety concern|safety problem|question de sécurité|"
             "problema de seguridad|problema di sicurezza|sicherheitsproblem|"
             "before someone {gets hurt,dies,is hurt,is killed}|before a {kid,child} {dies,gets hurt}|"
             "piece of glass|shard|glass in {my,the,her,his}|pezzo di vetro|morceau de verre|"
             "trozo de cristal|glassplitter|glasscherbe|tagliat|me corté|je me suis coupé|"
             "geschnitten|in my eye|in the eye|ins auge|augenarzt|twisted my|rolled my ankle|"
             "tordu|entorse|foulure|verstaucht|esguince|distorsione|slogat|"
             "nearly hit|almost hit|nearly ran|almost ran|nearly took out|nearly knocked|"
             "almost knocked|"
             "swollen battery|battery swelled|battery is swelling|swelled up|"
             "broke {his,her,their,our} {arm,wrist,leg,ankle,nose,finger,toe,collarbone}|"
             "{arm,wrist,leg,ankle,nose,finger,collarbone} is broken|broken {arm,wrist,leg,ankle,collarbone}|"
             "muñeca rota|pierna rota|brazo roto|tobillo roto|poignet cassé|bras cassé|"
             "jambe cassée|polso rotto|braccio rotto|gamba rotta|handgelenk gebrochen|"
             "arm gebrochen|bein gebrochen|verschmort|geschmort|chispas|se derritió|derritió|"
             "podría haber ardido|etincelles|étincelles|a fondu|scintille|si è sciolt|"
             "funken|split {her,his,my,their} {lip,head,chin,eyebrow}|"
             "tipped over on|toppled onto|came down on top|down on top of|on top of {him,her,them}|"
             "no earth|not earthed|wired wrong|"
             "bare wires|exposed wires|live wires|wires {showing,hanging,exposed}|"
             "choking|could have been killed|could have died|nearly died|near miss|"
             "unsafe|hazard|gas leak|leaking gas|{smelled,smelt,smell of} gas|"
             "{could,could have} {kill,killed} |kill someone|rauch|verbrannt|verbrennung|geschmolzen|verletz|"
             "krankenhaus|notaufnahme|gefährlich|incendio|humo$|quemad|quemó|herid|"
             "urgencias|peligros|pris feu|prend feu|fumée|brûl|blessé|blessure|hôpital|"
             "urgences|dangereu|preso fuoco|fumo$|ustion|bruciat|ferit|ospedale|"
             "pronto soccorso|pericolos",
        0.5: "a recall|the recall|recall notice|recalled|safety recall|product recall|"
             "rückruf|retirada|rappel|richiamo|snapped|gave way|came off|came apart|"
             "came loose|fell off|i fell|fell over|collapsed|hurt$|fire$|feuer|fuego|feu$|"
             "fuoco|sharp edge|cut my|rash$|could have been|accident$|accidents$|sparked|sparking|"
             "fell down|fell on|no handrail|dangerous$|blister|swollen|swelling|"
             "went down hard|clinic$|urgent care|hissing|melt through|melt$|shattered|"
             "burnt|burned|allergen|allergic|allergy|inhaler|mislabel|undeclared|"
             "headache|dizzy|fainted|passed out|unconscious|drowsy|"
             "room temp|room temperature|left out overnight|"
             "{she,he,they} fell|bruised|bruises|small cut|a cut on|tipped over|toppled|"
             "se cayó|cayó|caída|se rompió|tombé|chute$|caduto|caduta|gestürzt|sturz$|"
             "strap {snapped,broke}|wrenched|hanging off|"
             "tripped the|caught alight|cracked|slipped|sprain|strangl|suffocat|entrapment|"
             "{he's,she's,they're,we're,he is,she is} okay but|{nobody,no one} was hurt|"
             "nobody hurt|could have been worse|had to walk out|had to abandon|evacuat|"
             "rescued|mountain rescue|frostbite|hypotherm",
    },
    "legal": {
        0.9: "{speak,speaking,talk,talking,contact,contacting,call,calling,pass,passing,"
             "forward,forwarding,hand,handing,going,taking this} to {my,a} "
             "{lawyer,solicitor,attorney}|{lawyer,solicitor,attorney} {will,is} |"
             "hear from my|instructed a|legal action|legal advice|"
             "sue you|suing|see you in court|small claims|trading standards|ombudsman|"
             "regulator|citizens advice|consumer rights|consumer protection|"
             "consumer council|chargeback|charge back|card dispute|raised a dispute|"
             "disputing|dispute it|dispute this|dispute the charge|open a dispute|"
             "opened a dispute|contracargo|rückbuchung|disputa$|rétrofacturation|"
             "human rights commission|rights commission|civil aviation authority|"
             "caa$|aesa$|fca$|ofcom$|ofgem$|cnil$|bafin$|enac$|"
             "filed a complaint|lodged a complaint|filed with|complaint with the|"
             "presentado una reclamación|reclamación ante|reclamación formal|"
             "queja formal|denunci|facua$|ocu$|"
             "dispute with my|dispute the|card provider|card issuer|section 75|ico$|"
             "gdpr|unlawful|illegal|discriminat|equality act|false advertising|"
             "reported {it,you,this,them} to|reported to|report you to|reporting you|"
             "formal complaint|card company|asa$|cma$|ftc$|bbb$|equality commission|ehrc$|paypal {claim,dispute,case}|médiateur|"
             "mediatore|"
             "anwalt|anwältin|verbraucherzentrale|schlichtungsstelle|klage|abogad|"
             "demanda|denuncia|oficina del consumidor|consumo$|avocat|plainte|tribunal|"
             "associazione consumatori|avvocat|codacons|garante",
        0.6: "lawyer|solicitor|attorney|misleading|my mp$|humiliat|racis|profiled|"
             "refused entry|refused service|turned away|"
             "profiling|accused {me,my,us,him,her}|called {me,him,her,my son,my daughter} a|my bank|the bank|bank's next|"
             "bank is next|bank next|court$|legal$|police|reclamación|reclamacion|"
             "con el banco|mi banco|meine bank|ma banque|la mia banca|alla banca",
    },
    "press": {  # going public
        0.8: "going to the press|go to the press|to the press|the papers|newspaper|"
             "local paper|local news|journalist|reporter|press office|for comment$|"
             "watchdog|go public|going public|tell everyone|warn {everyone,others,people}|"
             "posting this everywhere|all over social|full timeline|whole timeline|"
             "every review site|writing it all up|writing this up|write it all up|"
             "my newsletter|my blog$|my podcast|my channel|my subscribers|"
             "{is,are} about to hear|going to hear about|will hear about|people who follow me|"
             "presse$|zeitung|prensa|periódico|"
             "stampa|giornale",
        0.4: "publish|article|deadline|complaints|review site|trustpilot|"
             "i have video|i've got video|on video|filmed|"
             "screenshot",
    },
    "leave": {  # taking their custom elsewhere
        0.8: "never shopping {again,with,here}|never shop {again,with,here}|never buy from|"
             "never buying from|never ordering {again,from}|"
             "taking my business|take my business|shop elsewhere|lost a customer|"
             "lost my custom|won't be back|wont be back|boycott|"
             "lost a {loyal,long-term,good} customer|"
             "to a competitor|to another {airline,bank,provider,company,supplier,retailer,"
             "store,shop,network,brand,carrier}|"
             "{moving,taking,switching,porting} {everything,all my,my whole,our whole,my number,"
             "our number,my account,our account,my business,our business}|"
             "porting {away,out}|number porting|port my number|port our number|"
             "cancellation submitted|i'm leaving|we're leaving|i am leaving|"
             "closing my account|"
             "{cancel,cancelling,cancelled,close,closing,delete,deleting} my "
             "{membership,account,subscription}",
        0.4: "never again|i'm done|im done|done with|i am done|my membership|nie wieder|nunca más|plus jamais|mai più|"
             "elsewhere|last time i|switching to",
    },
    "ultimatum": {  # a deadline before the customer acts: backs whatever stake it carries
        0.4: "unless|or else|you have until|until monday|by monday|by tomorrow|"
             "if i don't hear|if this isn't|otherwise i|last chance|final chance|"
             "si mañana no|sinon|altrimenti|ansonsten",
    },
    "contacts": {
        0.8: f"{_NTH} {_CONTACT}|{_NTH} time i|{_NTH} time asking|"
             f"{{called,rang,phoned,emailed,asked,chased,messaged,contacted}} {_N} times|"
             f"{{called,rang,phoned,emailed,asked,chased,messaged,contacted}} you {_N} times|"
             "{called,rang,phoned,emailed,asked,chased,messaged,contacted} twice|"
             "nothing {they,we,you} can do|nothing they could do|"
             f"{_N} {_CONTACT}|no reply|no replies|zero replies|no response|"
             "not {one,a single} {reply,response,word,answer}|heard nothing|"
             "{haven't,have not,never,not} heard back|"
             "{hasn't,haven't,has not,have not,never,nobody has,no one has} {got,gotten,come} back|"
             "{nobody,no one} will tell|{nobody,no one} can tell|still no {answer,word,reply}|"
             f"{_TRIED_TWO_WAYS}|"
             "{deuxième,troisième,quatrième} {message,mail,e-mail,appel,relance}|"
             "sans réponse|closed the chat|chat closed|left on read|unanswered|"
             "never called|promised a call|promised to call|"
             f"{_N} {{tickets,auto-replies,autoreplies,automated replies}}|"
             "zero humans|no humans|not one human|not a single human|"
             "promised {a call back,call back,callback,a callback} that never|"
             "call back that never|callback that never|"
             f"{_NOBODY} {{has,have,from}}|{_NOBODY} came|{_NOBODY} will|{_NOBODY} ever|"
             f"missed {_N} {{appointments,engineer,visits,callbacks,call-backs}}|"
             "missed {three,four,five,another} {appointment,engineer,visit}|"
             "{niemand,nadie,personne,nessuno} {belt,llama,rappelle,richiama}|"
             "personne ne me|nadie me|nessuno mi|niemand hat mir|niemand meldet|"
             "no answer|never replied|never answered|never got back|never called back|"
             f"{_NOBODY} {{answers,answered,replies,replied,responds,responded,gets back,"
             "got back,picks up,called back}|ignored|ignoring|on hold|transferred me|"
             "passed around|pillar to post|round in circles|retell|copy-paste|"
             "copy and paste|canned response|same reply|same response|same answer|"
             "{zum,das} {zweiten,dritten,vierten} mal|"
             "{zweimal,dreimal,viermal,fünfmal}|keine antwort|niemand antwortet|"
             "{segunda,tercera,cuarta} vez|{dos,tres,cuatro,cinco} veces|nadie contesta|"
             "nadie responde|sin respuesta|{deuxième,troisième,quatrième} fois|"
             "{deux,trois,quatre,cinq} fois|aucune réponse|pas de réponse|"
             "personne ne répond|{seconda,terza,quarta} volta|"
             "{due,tre,quattro,cinque} volte|nessuna risposta|nessuno risponde",
        0.45: f"{_NTH} time|still waiting|still no|still nothing|still hasn't|still haven't|"
              "still not|weeks$|a month|months$|twice$|angerufen|ho chiamato|"
              "llamado|appelé|chased|chasing|cut off|hung up|auto-repl|autorepl|"
              "auto repl|automated reply|a real person|actual human",
    },
    "privacy": {
        0.9: "data leak|data breach|privacy breach|breach of {privacy,my privacy}|leaked|"
             "data protection {problem,issue,breach,failure}|"
             "gdpr breach|datenleck|datenschutzverletzung|violazione|fuga de datos|"
             "fuite de données",
        0.5: "privacy|personal data|personal details|exposed|datenschutz|personenbezogen|"
             "data protection|"
             "privacidad|datos personales|données personnelles|vie privée|dati personali",
    },
    # Privacy needs both: someone else's ... and a piece of personal data.
    "other_person": {
        0.5: "someone else|somebody else|someone elses|another customer|other customer|"
             "{another,a different,other,someone else's} {passenger,traveller,traveler,"
             "customer,client,guest,member,account holder,patient}|"
             "another persons|another person's|a stranger's|quelqu'un d'autre|"
             "my ex|ex-partner|ex-husband|ex-wife|to anyone who|anyone can see|"
             "visible to anyone|publicly visible|"
             "de otra persona|di un'altra persona|von jemand anderem|"
             "another person|another user|other people's|a stranger|aren't mine|"
             "isn't mine|not mine|not my order|wasn't mine|un altro cliente|"
             "otro cliente|un autre client|eines anderen|anderen kunden|otra persona|"
             "autre personne|altra persona|andere person|anderen person",
    },
    "pii": {
        0.5: "name$|names$|address|phone number|email address|date of birth|"
             "card number|last four|card details|bank details|details$|"
             "passport|boarding pass|itinerary|card ending|ending in|transactions|"
             "invoice|facture|rechnung|factura|fattura|order number|numéro de commande|"
             "call history|call log|account details|"
             "{his,her,their} {balance,account,payments,payment,statement}|"
             "nome$|indirizzo|numero di telefono|nombre|dirección|teléfono|adresse|"
             "téléphone|telefonnummer|datos$|données|dati$|daten$",
    },
    "hacked": {
        0.9: "hacked|hacker|account compromised|compromised|taken over|wasn't me|"
             "was not me|unauthorised|unauthorized|phishing|fake account|impersonat|"
             "lock my account|freeze my account|secure my account|someone logged|"
             "someone used my|someone ordered|someone accessed|identity theft|"
             "changed {my,the} {email,password} on my account|changed my {email,password}|"
             "i {didn't,did not,never} {order,place,make,authorise,authorize,do this}|"
             "i {didn't,did not,never} {made,booked,authorised,authorized,bought,ordered}|"
             "never made|"
             "{orders,order,purchases} i {didn't,did not,never} make|someone placed|"
             "someone has {placed,been using,used}|"
             "{password,email,account,address} {was,has been,got} changed|"
             "logged {into,in} from|{card,saved card} {got,was,has been} used|"
             "used my {card,saved card}|"
             "fraudulent|gehackt|hackeado|piraté|hackerato|new sign-in|sign-in from|"
             "new login from|login from|qualcuno ha usato|alguien ha usado|alguien usó|"
             "quelqu'un a utilisé|jemand hat|no he hecho|yo no he hecho|non ho fatto|"
             "je n'ai pas fait|nicht bestellt|nie bestellt",
        0.5: "fraud|scam|betrug|estafa|arnaque|truffa|a real account|official account|"
             "verify {my,your} {payment,account,details,card}|sent me a link|"
             "clicked {the,a} link|{entered,typed,gave,put in} my {card,bank,payment} details|i don't recognise|i don't recognize|"
             "didn't recognise|don't recognise|unknown address|never heard of|"
             "password reset|didn't request|did not request|didn't ask for|"
             "someone got into|somebody got into|got into my account|"
             "{email,password,address,phone number} on {it,my account,the account} {was,has been,got} changed|"
             "{haven't,have not,didn't,did not,never} {bought,ordered,purchased}",
    },
    # Safety gear: its failure is a safety matter (see assess), a question about it is not.
    "gear": {
        0.5: "helmet|harness|carabiner|crampon|avalanche|beacon|transceiver|life jacket|"
             "lifejacket|buoyancy aid|brakes$|brake$|buckle|belay|rope$|ropes$|corde$|"
             "cuerda$|seil$|gas canister|canister|cartridge|charger|charging cable|"
             "power bank|powerbank|seatbelt|seat belt|child seat|car seat|"
             "smoke alarm|smoke detector|carbon monoxide alarm|casco$|arnés|casque$|"
             "gilet de sauvetage|helm$|gurt$|freni$|frenos$|freins$|bremse",
    },
    # Modifiers: not stakes themselves.
    "distress": {
        0.6: "unacceptable|disgust|disgrace|appall|outrag|furious|livid|inakzeptabel|"
             "fed up|sick of|sick and tired|last straw|enough is enough|shambles|"
             "incompetent|useless|panic|scared|terrified|frightened|in tears|devastated|"
             "urgent|asap|immediately|right now|sort it|sort this|i want my|please help|"
             "how dare|not good enough|shocking|wtf|thanks for nothing|funeral|"
             "wedding|this is serious|"
             "inaccettabile|inacceptable|inaceptable|unverschämt|skandal|vergogna|"
             "vergüenza|scandale",
    },
    # Something is wrong, mildly: no stake, but the post is a complaint.
    "problem": {
        0.5: "broken|broke$|faulty|defective|damaged|damp$|soaked|leaks|leaking|leaked|"
             "torn$|ripped|doesn't work|does not work|not working|stopped working|"
             "won't {work,load,open,let}|wrong$|late$|delayed|error|crash|glitch|bug$|"
             "bugs$|404|peeling|fell apart|falling apart|delaminat|shrank|disappoint|"
             "annoying|frustrat|complain|dismissive|rude$|unhelpful|expected better|"
             "poor service|bad service|terrible service|waited an hour|waited ages|"
             "waited {20,30,40,45,50,60,90} minutes|can't log in|cannot log in|can't sign in|locked out|"
             "outage|dreadful|do better|embarrassing|not great|not good|not ideal|"
             "not happy|not impressed|underwhelm|not acceptable|gebrochen|dented|"
             "split$|frayed|fraying|core shot|gaine ouverte|perished|"
             "can't access|cannot access|won't let me|kaputt|defekt|falsch|roto|rota$|defectuos|"
             "cassé|abîmé|rotto|difettos",
    },
    # Longer phrases that shadow a stake word inside them ("my bank account").
    "neutral": {
        0.0: "my bank account|bank holiday|bank card$|the bank holiday|no reply needed|"
             "no response needed|no need to reply|no need to respond|no reply necessary|"
             "twice out of twice|out of twice|twice now and|"
             "hasn't been charged|has not been charged|haven't been charged|wasn't charged|"
             "not been charged|wasn't a scam|isn't a scam|not a scam|isnt a scam|"
             "wasnt a scam|is a lawyer|is actually a lawyer|as a lawyer|not a lawyer|"
             "lawyer friend|a lawyer and|i'm a lawyer|i am a lawyer|fois trop|times too|"
             "times bigger|times the size|cheaper elsewhere|elsewhere for less|"
             "scam alert|how to spot|hacked together|not your fault",
    },
    # The customer says it can wait: a stake, if any, weighs less.
    "mild": {
        0.5: "mild$|minor$|small thing|small one|small issue|not a huge deal|not a big deal|"
             "no big deal|not the end of the world|got there in the end|no rush|no hurry|"
             "not urgent|bit of a|just wondering|just curious|just checking|not panicking|"
             "not angry|not complaining",
    },
    # Praise words around a problem: "Fantastic start to a £340 weekend".
    "sarcasm": {
        0.5: "fantastic start|great start|brilliant start|love that|loving that|"
             "really looking forward|just what i needed|thanks a lot|thanks for nothing|"
             "cheers for that|10/10|stellar|top notch service|well done {northwind,guys}|"
             "oh great|oh brilliant|oh good|what a joke|genius$|wow thanks|"
             "thanks for {charging,losing,cancelling,canceling,ignoring,breaking,wasting}|"
             "totally fine|totally safe|really great|just great|great job|love how|"
             "gotta love|got to love",
    },
    # Function words of German, Spanish, French and Italian: VADER reads "die",
    # "sin" or "pain" as English, so its score means little for these posts.
    "foreign": {
        0.1: "und$|der$|ich$|nicht$|ist$|mit$|auf$|eine$|meine$|mein$|sind$|auch$|für$|"
             "bei$|euch$|wurde$|el$|los$|las$|que$|por$|para$|una$|del$|pero$|muy$|"
             "está$|les$|des$|est$|pour$|une$|je$|avec$|dans$|vous$|très$|il$|di$|"
             "che$|per$|sono$|gli$|della$|ho$|anche$|molto$|nel$|nell'|l'|d'|qu'|"
             "j'ai$|c'est$|la$|de$|en$|le$|y$|ça$|hay$|sie$|wir$|es$|ein$|das$|zu$|nach$|"
             "den$|dem$|gibt$|diese$|dieser$|vom$|zum$|zur$|wird$|habe$|nur$|noch$|schon$|"
             "aber$|oder$|wenn$|kann$|mis$|sus$|como$|cuando$|tiene$|tengo$|mon$|mes$|"
             "sur$|pas$|qui$|été$|mais$|nous$|cette$|votre$|mio$|mia$|questo$|questa$|"
             "stato$|ancora$|ich$|mir$|mich$",
    },
    # Negative words used as praise and negated complaints, which VADER misreads, and
    # praise in languages VADER does not know.
    "praise": {
        0.8: "not one blister|no blisters|zero blisters|no complaints|can't complain|cannot complain|can't fault|cannot fault|"
             "not a complaint|no issue|not bad|is sick|so sick|proper sick|killer|"
             "scam? nope|scam? no$|rip-off? nope|would die for|to die for|kill for|"
             "scam. nope|scam. they're not|scam. it's not|scam. it isn't|scam. they aren't|"
             "scam, nope|"
             "should be illegal|criminally|"
             "sick.|sick!|"
             "kein grund zur klage|nichts zu meckern|niente da dire|nada que objetar|"
             "rien à redire|wie neu|danke für|vielen dank|merci pour|merci beaucoup|"
             "gracias por|muchas gracias|grazie per|grazie mille|obrigado pel|obrigada pel|"
             "come nuovo|como nuevo|comme neuf|toll$|klasse$|perfekt|wunderbar|"
             "großartig|fantastic|bellissim|ottim|perfett|excelente|increíble|génial|"
             "genial$|parfait|magnifique|bravo",
    },
    # Plain praise VADER reads well: only tells ambiguous stake words apart.
    "positive": {
        0.6: "thank|cheers|legend|respect$|recommend|fair play|spot on|brilliant|"
             "lovely|love it|loving|great|fave|favourite|favorite|above and beyond|"
             "well done|perfect|worth it|happy|love$|loves$|loved$|wonderful|amazing|awesome|"
             "friendly|helpful|smooth|painless|on time|hassle-free|hassle free|"
             "danke|merci|gracias|grazie|diolch|obrigad|made my day|shout out|shoutout|"
             "excellent|superb|outstanding|glad$|pleased|delighted|impressed|gorgeous|"
             "beautiful|comfy|cosy|cozy|nice$|good$|ace$|star$",
    },
    # The customer says the problem went away: the latest word of a calming thread.
    "resolved": {
        0.9: "all good|all sorted|sorted now|now sorted|it's sorted|panic over|"
             "rang back within|called back within|got back to me within|sorted it out|"
             "sorted everything|fully refunded|refunded in full|money is back|money's back|"
             "crisis averted|false alarm|never mind|nevermind|ignore my last|my mistake|"
             "my bad|sorry for the {tone,rant,outburst}|sorry for my {tone,rant,outburst}|"
             "problem solved|issue resolved|resolved now|fixed now|"
             "refund {landed,arrived,came through,has landed,has arrived}|got my refund|"
             "just pending|only pending|were pending|was pending|"
             "finally arrived|finally turned up|turned up in the end|alles gut|todo bien|tout est réglé|tutto risolto",
    },
    "spam": {
        0.9: "/day|a day from home|real followers|buy followers|dm now|link in profile|"
             "crypto|click here|claim before|claim now|you have been selected|"
             "{50,60,70,80,90}% off|giveaway|promo code|dot {shop,com,net,xyz}|"
             "free gift card|click now|limited stock",
    },
}

_AMOUNT_AT_STAKE = 0.7
_GEAR_FAILED = 0.8
_COMPLAINT = frozenset({"distress", "sarcasm", "problem", "contacts", "legal", "leave",
                        "press", "ultimatum"})
_WEAK = {"money": 0.45, "safety": 0.5, "legal": 0.6, "press": 0.4, "leave": 0.4,
         "ultimatum": 0.4, "contacts": 0.45, "privacy": 0.5,
         "hacked": 0.5}  # the weight at and under which a term is ambiguous


def _trie_pattern(terms: list[str]) -> str:
    """A regex matching any term, factored into a prefix tree (longest match first)."""
    root: dict = {}
    for term in terms:
        node = root
        end_word = term.endswith("$")
        for ch in term.rstrip("$"):
            node = node.setdefault(ch, {})
        node["$" if end_word else ""] = True

    def build(node: dict) -> str:
        alts = []
        for key in sorted(k for k in node if k not in ("", "$")):
            piece = r"\s+" if key == " " else re.escape(key)
            alts.append(piece + build(node[key]))
        if "$" in node:
            alts.append(r"\b")
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(root)


def _expand(term: str) -> list[str]:
    """"broke my {arm,wrist}" -> one term per option (several braces multiply)."""
    if "{" not in term:
        return [term]
    head, rest = term.split("{", 1)
    options, tail = rest.split("}", 1)
    return [head + o + t for o in options.split(",") for t in _expand(tail)]


def _compile() -> tuple[re.Pattern[str], dict[str, tuple[str, float]]]:
    table: dict[str, tuple[str, float]] = {}
    for kind, by_weight in _LEXICON.items():
        for weight, terms in by_weight.items():
            for term in terms.split("|"):
                for t in _expand(term):
                    if not t.rstrip("$").strip():  # would match everywhere
                        raise ValueError(f"an empty term in the {kind} lexicon")
                    table.setdefault(t, (kind, weight))
    pattern = re.compile(r"\b(" + _trie_pattern(list(table)) + ")")
    return pattern, {k.rstrip("$"): v for k, v in table.items()}


_TERMS, _TERM_KIND = _compile()
RELIEF = 0.35  # the least a post that settles the problem reads: calm, a little relieved
_UNSET = object()
_VADER_BODY: object = _UNSET  # VADER without its emoji pass, checked on first use
_SPACES = re.compile(r"\s+")
_MONEY = re.compile(r"[£€$]\s?\d|\d(?:[.,]\d\d)?\s?(?:€|eur\b|euro|pounds|quid)")
_PRAISE_EMOJI = re.compile("[\U0001F525\U0001F4AF\U0001F44F\U0001F64C\U0001F60D\U0001F970"
                           "\u2764\U0001F9E1\U0001F49B\U0001F49A\U0001F499\U0001F49C"
                           "\U0001FAF6\U0001F44D\u2b50\U0001F929\U0001F973]")


class Lexical(NamedTuple):
    """The lexicon's hits in one post, before the tone is known."""

    sure: dict[str, float]       # kind -> weight of unambiguous hits (stakes and modifiers)
    weak: dict[str, float]       # stake kind -> weight of ambiguous hits
    money_amount: bool           # "£45", "129 €"
    question: bool
    foreign: bool                # German, Spanish, French or Italian function words
    settled: int                 # "resolved" hits: the customer says it went away


class Reading(NamedTuple):
    """What the desk reads in one post: the compound plus the evidence behind it."""

    compound: float          # customer-service compound, -1..1
    raw: float               # VADER's compound, untouched
    stakes: float            # 0..1: how surely the post carries a concrete stake
    kinds: frozenset[str]    # which stakes (see STAKE_KINDS)
    distress: float          # 0..1: anger or urgency markers
    praise: float            # 0..1: praise, thanks, negated complaints, praise emoji
    resolved: bool           # the customer says the problem went away
    spam: bool
    question: bool


@lru_cache(maxsize=1)
def analyzer() -> SentimentIntensityAnalyzer:
    """One shared VADER analyser (loading its lexicon takes a while)."""
    return SentimentIntensityAnalyzer()


def raw_vader(text: str) -> float:
    """VADER's compound score, untouched."""
    return analyzer().polarity_scores(text)["compound"]


def _polarity(text: str) -> dict[str, float]:
    """VADER's scores, the same numbers as ``polarity_scores``, a few microseconds sooner.

    ``polarity_scores`` first rebuilds the text character by character to spell out
    emoji, a Python loop costing a tenth of the call; when no character is an emoji
    (always so for ASCII) the rebuilt text is the text itself, so skip straight to
    scoring. Falls back to the stock call if VADER's internals ever change.
    """
    global _VADER_BODY
    if _VADER_BODY is _UNSET:
        _VADER_BODY = _vader_body()
    vader = analyzer()
    if _VADER_BODY is None or not (text.isascii() or vader.emojis.keys().isdisjoint(text)):
        return vader.polarity_scores(text)
    return _VADER_BODY(vader, text.strip())  # type: ignore[operator]


def _vader_body():
    """The part of ``polarity_scores`` after the emoji pass (vaderSentiment 3.3.x)."""
    try:
        from vaderSentiment.vaderSentiment import BOOSTER_DICT, SentiText

        def body(vader: SentimentIntensityAnalyzer, text: str) -> dict[str, float]:
            sentitext = SentiText(text)
            sentiments: list[float] = []
            words = sentitext.words_and_emoticons
            last = len(words) - 1
            for i, item in enumerate(words):
                low = item.lower()
                if low in BOOSTER_DICT or (
                        i < last and low == "kind" and words[i + 1].lower() == "of"):
                    sentiments.append(0)
                    continue
                sentiments = vader.sentiment_valence(0, sentitext, item, i, sentiments)
            sentiments = vader._but_check(words, sentiments)
            return vader.score_valence(sentiments, text)

        probe = "The staff were NOT helpful at all!! but the boots are great :)"
        if body(analyzer(), probe) != analyzer().polarity_scores(probe):
            return None
        return body
    except Exception:  # noqa: BLE001 - any surprise means: use the stock call
        return None


_LEXICAL: dict[str, Lexical] = {}
_LEXICAL_MAX = 8192
_LEXICAL_TRIM = threading.Lock()


def lexical(text: str) -> Lexical:
    """One scan of the lexicon over the post (cached: heat and the playbook reread it)."""
    found = _LEXICAL.get(text)
    if found is None:
        found = _scan(text)
        remember(text, found)
    return found


def remember(text: str, lex: Lexical) -> None:
    """Keep a scan (bounded: the oldest quarter goes when full). The ingest pipeline hands
    in the scans its scoring process made, so the store's heat and playbook rules never
    scan the same post a second time."""
    if len(_LEXICAL) >= _LEXICAL_MAX:
        with _LEXICAL_TRIM:  # the store's thread and the event loop both read and write
            for key in list(_LEXICAL)[:_LEXICAL_MAX // 4]:
                _LEXICAL.pop(key, None)
    _LEXICAL[text] = lex


def _scan(text: str) -> Lexical:
    low = text.lower()
    plain = text.isascii()
    if not plain:
        low = low.replace("\u2019", "'")
    sure: dict[str, float] = {}
    weak: dict[str, float] = {}
    foreign = settled = 0
    for hit in _TERMS.findall(low):
        entry = _TERM_KIND.get(hit) or _TERM_KIND[_SPACES.sub(" ", hit)]
        kind, weight = entry
        if kind == "foreign":
            foreign += 1
            continue
        if kind == "neutral":
            continue
        if kind == "resolved":
            settled += 1
        table = weak if weight <= _WEAK.get(kind, -1.0) else sure
        if weight > table.get(kind, 0.0):
            table[kind] = weight
    if not plain and _PRAISE_EMOJI.search(text) and sure.get("praise", 0.0) < 0.6:
        sure["praise"] = 0.6
    amount = bool(_MONEY.search(low)) if ("£" in low or "€" in low or "$" in low
                                           or "eur" in low or "pound" in low) else False
    return Lexical(sure, weak, amount, "?" in text, foreign >= 2, settled)


def _resolved(lex: Lexical, felt: float) -> bool:
    """The post says the problem went away: twice, or once in a warm post."""
    return lex.settled >= 2 or (lex.settled == 1 and (
        felt > 0.2 or "praise" in lex.sure or "positive" in lex.sure))


def tone(raw: float, lex: Lexical) -> float:
    """VADER's compound as the lexicon lets the desk trust it.

    Damped for German, Spanish, French or Italian (VADER reads them as English), and
    turned negative when praise words wrap a problem ("Fantastic start to a £340 weekend").
    """
    if lex.foreign:
        raw *= 0.25
    sure = lex.sure
    if "sarcasm" in sure and ("problem" in sure or lex.money_amount or lex.weak
                              or _STAKE_SET.intersection(sure)):
        raw = -0.5 * max(0.8, abs(raw))
    return raw


def assess(lex: Lexical, felt: float) -> tuple[float, frozenset[str]]:
    """Stake strength 0..1 and kinds, given how the post feels (its tone or stored compound).

    Ambiguous words count only when the post is not calm praise; an amount of money
    backs a complaint but is no stake alone ("best £15 I've spent").
    """
    sure = lex.sure
    if "spam" in sure:
        return 0.0, frozenset()
    found = {k: w for k, w in sure.items() if k in _STAKE_SET}
    if "other_person" in sure and "pii" in sure:  # "another customer's address"
        found["privacy"] = 0.9
    if lex.weak:
        calm = (not found and "distress" not in sure and "problem" not in sure
                and ("praise" in sure or felt >= 0.75 or ("positive" in sure and felt > 0.2)))
        if not calm:
            for kind, w in lex.weak.items():
                if w > found.get(kind, 0.0):
                    found[kind] = w
    if (lex.money_amount
            and (found or (felt < -0.2 and ("praise" not in sure or "sarcasm" in sure)))
            and found.get("money", 0.0) < 0.45):
        found["money"] = 0.45
    if (lex.money_amount and "money" in found and found["money"] < _AMOUNT_AT_STAKE
            and _COMPLAINT.intersection(sure)):
        # "£260 for a flight YOU cancelled", in a sarcastic, angry or upset post: an
        # amount, a money word and a complaint are money charged wrongly or lost
        found["money"] = _AMOUNT_AT_STAKE
    if "gear" in sure and ("problem" in sure or "safety" in found):
        # a helmet that cracked, brakes that failed: safety gear that let someone down
        found["safety"] = max(found.get("safety", 0.0), _GEAR_FAILED)
    if len(found) == 1 and "ultimatum" in found:
        del found["ultimatum"]  # "unless it sells out" is no threat
    if not found:
        return 0.0, frozenset()
    miss = 1.0
    for w in found.values():
        miss *= 1.0 - w
    strength = min(1.0, 1.0 - miss + 0.05 * (len(found) - 1))
    if lex.settled and _resolved(lex, felt):
        strength *= 0.15
    elif "mild" in sure:
        strength *= 0.7
    return strength, frozenset(found)


def _compound(felt: float, lex: Lexical, strength: float) -> float:
    """The customer-service compound from the tone, the lexicon's hits and the stakes."""
    sure = lex.sure
    compound = felt
    resolved = lex.settled > 0 and _resolved(lex, felt)
    if "spam" in sure:
        compound = max(-0.1, min(compound, 0.3))
    elif resolved:
        # The customer says it went away: relief, whatever words the story used.
        return round(max(compound, RELIEF), 4)
    elif strength > 0:
        # Stakes pull the reading towards -1 however politely they are put.
        pull = strength * (0.5 + 0.5 * strength)  # a lone ambiguous word pulls less
        compound = min(compound, 0.0) * (1.0 - pull) - pull
    elif compound < 0.3 and "praise" in sure:
        compound = 0.3 + 0.3 * sure["praise"]
    elif "problem" in sure and "positive" not in sure:
        # Something is wrong, however VADER liked the words ("Expected better.").
        compound = min(compound, 0.0) * 0.5 - 0.25
    distress = sure.get("distress")
    if distress:
        compound -= 0.25 * distress * (1.0 + compound)
    return round(max(-1.0, min(1.0, compound)), 4)


def read(text: str) -> Reading:
    """The customer-service reading of one post."""
    raw = raw_vader(text)
    lex = lexical(text)
    felt = tone(raw, lex)
    strength, kinds = assess(lex, felt)
    sure = lex.sure
    return Reading(_compound(felt, lex, strength), raw, round(strength, 3), kinds,
                   sure.get("distress", 0.0),
                   max(sure.get("praise", 0.0), sure.get("positive", 0.0)),
                   lex.settled > 0 and _resolved(lex, felt), "spam" in sure, lex.question)


def score(text: str) -> float:
    """Customer-service compound score in [-1, 1]; negative means unhappy."""
    raw = _polarity(text)["compound"]
    lex = lexical(text)
    if not lex.sure and not lex.weak and not lex.money_amount and not lex.foreign:
        return raw  # nothing in the lexicon: VADER's reading stands
    felt = tone(raw, lex)
    return _compound(felt, lex, assess(lex, felt)[0])


def stakes(text: str, felt: float | None = None) -> tuple[float, frozenset[str]]:
    """How surely the post carries a concrete stake (0..1) and which kinds.

    ``felt`` is the post's stored compound score; without it VADER runs again.
    """
    lex = lexical(text)
    return assess(lex, tone(raw_vader(text), lex) if felt is None else felt)


def score_many(texts: list[str]) -> list[float]:
    """Scores for a batch of texts."""
    return [score(t) for t in texts]


def score_and_scan(texts: list[str]) -> list[tuple[float, Lexical]]:
    """``score_many`` plus each text's lexicon scan (made anyway while scoring), for a
    scoring process to hand back: the caller ``remember``s the scans."""
    return [(score(t), lexical(t)) for t in texts]

