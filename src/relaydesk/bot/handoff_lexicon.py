"""Word classes for human-request detection in the ten supported languages.

Folded forms (no diacritics, lower-case). An entry ending in '*' is a stem (inflected
languages); an entry with '_' joined by '_' is a phrase that counts as one unit. The classes:

- PERSON: who the customer asks for ("agent", "konsultantem", "kundtjänst").
- WEAK_PERSON: words that mean a person only next to a verb of talking ("someone", "orang").
- TALK: verbs and nouns of talking or connecting, present/infinitive/imperative only, so
  "I talked to an agent" does not fire.
- WANT: asking words ("I want", "chcę", "poproszę"); MODAL ("can", "możemy") only links.
- HELP: "help", which makes a person-first clause a request ("can an agent help me").
- GLUE: what may stand between a cue and the person ("to a real", "z prawdziwym").
- FILLER: politeness and urgency that may surround a bare "Agent!" message.
- NECESSITY: "do I need to" right before a talk verb asks a question, not for a person.
- DET: before a talk word, makes it a noun ("a transfer to someone", "my phone").
- NEGATION / ALREADY: cancel a cue that follows them ("don't transfer me", "sudah bicara").
- BOT: the machine the customer does not want to talk to.
- PERSON_SUFFIXES: compounds that name a person ("supportpersonal", "Kundenmitarbeiter").
- POST_BLOCK: after a person word, marks someone else's agent ("agen perjalanan saya").
"""

from __future__ import annotations

PERSON = """
human humans human_being humanbeing agent agents live_agent representative representatives
rep
reps operator operators real_person actual_person live_person real_human live_chat person
supervisor supervisors manager managers consultant advisor adviser staff member_of_staff
staff_member customer_service customer_support customer_care support_agent
service_agent employee associate specialist person_in_charge customer_service_team
manusia agen operator cs petugas staf staff karyawan pegawai konsultan perwakilan manajer
customer_service layanan_pelanggan orang_asli orang_beneran
manniska manniskan manniskor handlaggare* agent operator kundtjanst* kundservice
medarbetare* radgivare* riktig_person kundsupport
czlowiek* konsultant* agent* operator* pracownik* doradc* kierownik* przedstawiciel*
obslug*_klient* osoba osobe osoby osobie osobom zywa_osoba
mensch* mitarbeiter* berater* kundenberater* sachbearbeiter* vorgesetzt* ansprechpartner*
kundendienst kundenservice kundenbetreuer* person personen agent* operator*
persona personas humano humana humanos agente agentes operador operadora asesor asesora
asesores representante encargado encargada supervisor atencion_al_cliente
servicio_al_cliente
humain humaine humains personne_reelle vraie_personne conseiller* conseillere* operateur*
operatrice agent agents responsable service_client service_clientele etre_humain
mens mensen persoon medewerker* klantenservice* leidinggevende* operator agent
echt_persoon echte_mens
pessoa pessoas atendente* agente operador* consultor* gerente representante
servico_de_atendimento_ao_cliente
persona umano umana umani operatore operatori operatrice agente consulente responsabile
addetto addetta servizio_clienti essere_umano
orang
ansvarig ansvariga team_member team_members staff_members kundenbetreuer
live_support live_help customer_rep service_rep support_rep boss specjalist* interlocuteur
interlocutrice adviseur helpdesk servicedesk supervisore ejecutivo gerente
atasan
"""

WEAK_PERSON = """
someone somebody anyone anybody someone_real somebody_real team support admin support_team
assistant
personnel
seseorang admin orangnya tim
nagon nan ngn personal personalen   folk chef
ktos kogos kims komus ludzi obslug* dzial* szef*
jemand jemanden jemandem jemandes team support leute
alguien soporte equipo gente
quelquun   equipe support
iemand team support mensen
alguem suporte atendimento equipe
qualcuno supporto assistenza squadra
"""

TALK = """
talk speak chat connect transfer reach contact call escalate redirect forward
talking speaking chatting contacting connecting transferring reaching available
tersedia ledig dostepny dostepna verfugbar disponible beschikbaar disponivel disponibile
put_me_through put_through put_me_in_touch put_in_touch get_in_touch get_hold_of
hand_me_over pass_me switch_me callback call_back ring phone
bicara berbicara bicra ngomong omong ngobrol chat chatting hubungkan dihubungkan
menghubungkan sambungkan disambungkan menyambungkan alihkan dialihkan hubungi menghubungi
telepon telpon tanya panggilkan panggil
prata tala snacka chatta koppla kopplad kopplas ringa kontakta kontakt samtal
rozmawiac porozmawiac pogadac gadac rozmow* polacz polaczyc polaczcie polaczenie polaczenia
przelacz przelaczyc przelaczcie przekierowac przekieruj przekierujcie skontaktowac
kontakt* zadzwonic zadzwoncie czatowac napisac
sprechen reden verbinden verbinde verbindet weiterleiten leiten chatten zuruckrufen
anrufen kontaktieren kontakt
hablar habla ablar comunica* pasar pasame pasarme pasa transferir transfiereme conectar
conectame atienda atender llame llamar contactar charlar chatear
parler discuter passer passez passe transferer mettre mettez joindre contacter rappeler
rappelle chatter relation contact
praten spreken chatten verbinden doorverbinden doorverbind verbind bellen terugbellen
contact nodig
falar conversar passar passa transferir transfere ligar atender     contato
contacto
parlare chattare passare passi passatemi mettere mettetemi contatto trasferire
richiamare richiamarmi chiamare contattare
put_through get_through hand_over
handed_over pass_on
oper operin sambungin hubungin diajak ajak nelpon menelepon
hamta overfor overfora   overflytta   skicka_vidare skicka_mig_vidare
for_mig_vidare fora_vidare slussa slussa_vidare skriva ringer
porozmawiam pogadam mowic pisac popisac napisze czatowac zadzwoni oddzwonic oddzwoni
polacz* przelacz* przekier* przekaz* skontaktujcie zawolaj zawolajcie wezwij wezwac
dodzwonic
schreiben durchstellen weiterverbinden
transfiere* conecta* escribir hablarle
transfere ecrire echanger
schrijven doorschakelen doorsturen
chamar escrever   encaminhar encaminhe
scrivere inoltrare collegare collegarmi collegatemi
have_a_word discuss get_back_to get_back needed required
berkomunikasi komunikasi dilayani layani melayani disambungin disambung sambung
skicka besprechen stellen durchstellen comuniq* transferez transfereer doorverbinden
conversa conversar discutere parlarne
loop_in odezwie odezwac odezwijcie transfira transfiram
communicate converse consult deal_with konsultasi berkonsultasi diskusi berdiskusi
diskutera konsultera skonsult* konsultowac telefonieren erreichen kommunizieren platicar
contactarme contactenme llamarme llamenme appeler rappelez contactez recontacter overleggen
bereiken contacteren papo comunicar contatar sentire comunicare
answer respond reply repondre reponde repondez collega collegate colleghi
"""

WANT = """
want wanna need would_like id_like there_is theres prefer rather let_me give_me get_me gimme
demand
request requesting im_looking_for looking_for get mau ingin pengen pingin minta butuh
perlu mohon tolong cari vill ville onskar behover ge lat finns chce chcialbym chcialabym
chcemy potrzebuje prosze poprosze prosic daj dajcie mochte will wurde gerne brauche gib
gibt hatte quiero kiero quisiera gustaria necesito deseo dame hay veux voudrais voudrai
souhaite souhaiterais aimerais besoin donnez wil graag zou geef quero kero queria gostaria
preciso voglio vorrei bisogno dammi is_there are_there
fetch find_me bring_me
carikan cariin kepingin mana
hamta vill_ha skulle_vilja
potrzeb* zalatw* wolalbym wolalabym wole
prefiero busco
prefere prefererais cherche
wens liever
prefiro
preferisco cerco
"""

PASSIVE = """
transferred connected redirected forwarded passed overflyttad overford verbunden
weitergeleitet transferido doorverbonden trasferito trasferita atendido atendida transferido
encaminhado mis
uppringd kontaktad kontaktade
"""

BE = """
be being get getting bli blir zostac zostac byc werden worden ser etre essere estar
"""

MODAL = """
can could may bisa boleh bisakah kan kunde far fa moge mozna moze mozecie mozesz mogli
kann kannst konnte konnten konnen puedo pueden puede puedes podria podrias peux puis
pourrais pouvez peut peuvent pourriez kunt kunnen mag posso pode podem poderia puo puoi
potete potrei
"""

HELP = """
help assist helping bantu membantu bantuin hjalpa hjalper pomoc pomoze pomogl helfen
helfe ayudar ayudarme ayude aider aide helpen ajudar ajudarme aiutare aiutarmi
hilfe hjalp hjalpen ayuda ajuda aiuto pomocy bantuan bantuin assistance support
unterstutzung aide hulp
"""

GLUE = """
to with a an the some any one of your ur you yours real actual live proper human me us
directly now right please pls plz just quickly again from in on through back over via
member customer service support sales billing care technical tech returns team i we can
that this who whom instead help assistance have fucking fuckin fking bloody
goddamn damn damned freaking frigging effing stupid wth wiht wirh speak talk u be   there
here ok okay asap
dengan sama ama ke kepada pada sm dg dgn saya aku sy ku langsung seorang asli beneran
sungguhan nyata manusia layanan pelanggan dong aja saja sekarang tolong nya ya kak min untuk
di dari anda kalian bagian yg
med till en ett nagon nan riktig riktiga levande verklig mig oss er ert era din vidare fran
pa i bli att direkt nu tack snalla lite jag jg det ha
z ze do kurwa mnie mi sie prawdziwym prawdziwego prawdziwa prawdziwa zywym zywa zywego na
zywo
jakims jakis od waszym waszego wasza panem pania o w firmy sklepu obslugi klienta klientem
dzialu czy jest kim kims ja
mit einem einer einen dem der den ein eine nem ner echten echter echte richtigen mich mir
uns bitte sofort jetzt vom von aus an zu zum zur ihrem ihren ihre eurem menschlichen
lebenden sie ich es
con a al un una el la los las me nos real de verdad humano por favor algun alguno alguna
vuestro su sus directamente ya ahora del que yo
a au aux un une le la les l des du de d avec vraie vrai moi nous en votre vos humain reel
reelle tout suite directement svp mis je j etre s il vous plait
met een de het aan echte echt mij me ons jullie uw van graag even nu direct door ik er
com um uma o a ao os as me nos de verdade real do da seu sua vosso para pra por favor
humano algum alguma ser em eu coloca
con un una uno il lo la l al allo alla mi ci del della vero vera reale umano vostro vostri
suo per favore in contatto qualche a ad essere e c cui io
ada yang mansklig manskliga niech zywy zywej prawdziwy prawdziwej ludzki ludzkiego
jakiegos
really 2 vers m t livs levande mal einmal dell all un
av di
avoir tener ter avere haben hebben krijgen bekommen line lijn linje linii linea ligne linha
about regarding concerning re for and or because since so tentang soal mengenai terkait
om angaende sprawie uber wegen sobre sur concernant pour over su riguardo per
mbak mas pak bu bapak ibu
complaints complaint refunds accounts reklamacji reklamationer telefoon telefon telefono telefone
"""

FILLER = """
please pls plz thanks thank_you now asap immediately       stop the a an real live
just ok okay right yes again
tolong dong ya kak min sekarang     please
tack snalla nu
prosze poprosze teraz natychmiast
bitte jetzt sofort
por_favor ya ahora
svp s_il_vous_plait maintenant
alsjeblieft graag nu
por_favor agora
per_favore subito
"""

NEGATION = """
not no dont never
doesnt didnt cannot cant wont without
tidak tak gak ga nggak enggak bukan jangan ogah
inte ej aldrig ingen
nie bez
nicht kein keine ohne
no nunca sin
ne pas jamais sans
niet geen zonder
nao nunca sem
non senza
"""

NECESSITY = """
do_i_need_to do_i_have_to do_we_need_to do_we_have_to should_i should_we must_i
"""

ALREADY = """
already before yesterday earlier previously was were been
sudah udah telah pernah tadi kemarin
redan igar
juz wczoraj
schon bereits gestern
ayer
deja hier
al gisteren
ja ontem
gia ieri
is are its
"""

DET = """
a an the my this that your his her our their each every
"""

BOT = """
bot bots robot robots chatbot chatbots machine machines automated ai
mesin robotnya botnya
boten botar maskin maskinen automat
bota botem boty botami maszyna maszyne maszyny automat automatem
roboter maschine
maquina
robot machine
automaat
robo maquina
macchina
"""

STOP = """
stop skip bypass enough cukup stoppa sluta wylacz wylaczcie dosc stopp halt basta para
arrete
"""

PERSON_SUFFIXES = """
personal medarbetare handlaggare radgivare mitarbeiter mitarbeiterin berater beraterin
medewerker medewerkers
"""

POST_BLOCK = """
saya aku ku kami kita dia mereka perjalanan asuransi properti kurir pengiriman ekspedisi
travel lain lainnya
"""
