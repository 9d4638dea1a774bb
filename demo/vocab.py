"""Word pools for the demo world: company, person and product names.

Kept apart from the generator so that `generate.py` reads as the rules of the
world (who buys what, who pays late) rather than as a dictionary. Pairs are
(latin or English form, local form); the local form is only exposed where it
differs, as `name_local`.
"""

REGIONS = {
    "EMEA": ["DE", "DE", "DE", "FR", "FR", "GB", "NL", "IT", "ES", "SE", "CH", "PL"],
    "NA": ["US", "US", "US", "CA"],
    "APAC": ["JP", "JP", "CN", "CN", "KR", "SG", "IN", "AU"],
    "LATAM": ["BR", "BR", "MX", "AR", "CL"],
}

# Sales teams and the countries they cover.
TEAMS = {
    "EMEA North": ["DE", "GB", "NL", "SE", "CH", "PL"],
    "EMEA South": ["FR", "IT", "ES"],
    "North America": ["US", "CA"],
    "APAC North": ["JP", "KR", "CN"],
    "APAC South": ["SG", "IN", "AU"],
    "LATAM": ["BR", "MX", "AR", "CL"],
}

INDUSTRIES = [
    "Automotive", "Machinery", "Electronics", "Chemicals", "Energy",
    "Food & Beverage", "Medical Devices", "Aerospace", "Construction",
    "Logistics", "Packaging", "Semiconductors",
]

# --- company names -----------------------------------------------------------

LATIN_COMPANY = {
    "DE": (["Müller", "Schäfer", "Köhler", "Bäcker", "Weiß", "Groß", "Fischer", "Schröder",
            "Hoffmann", "Krüger", "Bergmann", "Lößner", "Rheinland", "Süddeutsche", "Nordhütte",
            "Württemberger", "Bayerische", "Märkische", "Hanseatische", "Schwäbische"],
           ["Maschinenbau", "Präzisionstechnik", "Antriebstechnik", "Verpackungssysteme",
            "Kunststoffwerke", "Elektrotechnik", "Stahlbau", "Automatisierung", "Fördertechnik",
            "Gießerei", "Hydraulik", "Messtechnik"],
           ["GmbH", "AG", "GmbH & Co. KG", "SE"]),
    "FR": (["Société", "Compagnie", "Établissements", "Ateliers", "Groupe"],
           ["Générale de Mécanique", "Électrique du Rhône", "Métallurgique de Lorraine",
            "des Procédés Thermiques", "Industrielle de Bretagne", "d'Équipements Aéronautiques",
            "Chimique de Normandie", "de Précision Alpine", "Énergétique du Sud", "des Emballages Réunis"],
           ["SA", "SAS", "SARL"]),
    "GB": (["Thames", "Pennine", "Albion", "Sterling", "Highland", "Midland", "Cotswold", "Severn"],
           ["Engineering", "Components", "Fabrications", "Controls", "Industries", "Systems"],
           ["Ltd", "plc"]),
    "NL": (["Van der Berg", "De Vries", "Hollandia", "Nederlandse", "Rijnmond", "Zeeland"],
           ["Techniek", "Installaties", "Machinefabriek", "Verpakkingen", "Logistiek"],
           ["B.V.", "N.V."]),
    "IT": (["Officine", "Costruzioni", "Industrie", "Fonderia", "Meccanica"],
           ["Lombarde", "Piemontesi", "Città di Brescia", "Adriatica", "Padana", "Toscana"],
           ["S.p.A.", "S.r.l."]),
    "ES": (["Construcciones", "Industrias", "Talleres", "Sistemas", "Componentes"],
           ["Mecánicas Ibéricas", "Eléctricas del Norte", "Metálicas de Bilbao", "Técnicos Andaluces",
            "Hidráulicos de Valencia"],
           ["S.A.", "S.L."]),
    "SE": (["Göta", "Norrland", "Skåne", "Mälardalens", "Västra"],
           ["Verkstäder", "Stål", "Automation", "Kraft", "Förpackning"],
           ["AB"]),
    "CH": (["Zürcher", "Berner", "Helvetia", "Alpen", "Basler"],
           ["Präzision", "Feinmechanik", "Uhrenteile", "Pumpenbau", "Messsysteme"],
           ["AG", "SA"]),
    "PL": (["Polska", "Śląskie", "Wrocławskie", "Gdańskie", "Łódzkie"],
           ["Zakłady Mechaniczne", "Huta", "Fabryka Maszyn", "Elektrownia", "Odlewnia"],
           ["Sp. z o.o.", "S.A."]),
    "US": (["American", "Great Lakes", "Pacific", "Atlantic", "Lone Star", "Midwest", "Liberty",
            "Summit", "Keystone", "Cascade", "Redwood", "Ironbridge", "Northstar", "Granite"],
           ["Manufacturing", "Industries", "Fabrication", "Motion Systems", "Controls", "Tooling",
            "Packaging", "Power Systems", "Machine Works", "Robotics"],
           ["Inc.", "Corp.", "LLC"]),
    "CA": (["Maple", "Laurentian", "Prairie", "Northern", "Ontario", "Cascadia"],
           ["Industries", "Fabrication", "Machinery", "Controls", "Metalworks"],
           ["Inc.", "Ltd."]),
    "SG": (["Lion City", "Straits", "Marina", "Temasek", "Jurong"],
           ["Precision", "Electronics", "Engineering", "Logistics", "Technologies"],
           ["Pte. Ltd."]),
    "IN": (["Bharat", "Ganga", "Deccan", "Sahyadri", "Indus", "Kaveri"],
           ["Engineering", "Castings", "Motors", "Electricals", "Polymers", "Auto Components"],
           ["Pvt. Ltd.", "Ltd."]),
    "AU": (["Southern Cross", "Outback", "Coral", "Murray", "Tasman"],
           ["Engineering", "Mining Equipment", "Industries", "Fabrications", "Systems"],
           ["Pty Ltd"]),
    "BR": (["Indústria", "Metalúrgica", "Companhia", "Fundição", "Máquinas"],
           ["Paulista", "São Jorge", "do Paraná", "Gaúcha", "Mineira", "Atlântica"],
           ["Ltda.", "S.A."]),
    "MX": (["Industrias", "Aceros", "Maquinaria", "Grupo", "Componentes"],
           ["del Bajío", "Regiomontanos", "de Querétaro", "Aztecas", "del Pacífico"],
           ["S.A. de C.V."]),
    "AR": (["Metalúrgica", "Industrias", "Talleres"],
           ["Rioplatense", "Pampeana", "de Córdoba", "del Sur"],
           ["S.A.", "S.R.L."]),
    "CL": (["Maestranza", "Industrias", "Minera"],
           ["Andina", "del Pacífico", "de Antofagasta", "Austral"],
           ["S.A.", "SpA"]),
}

# (romanised or English, local script)
CJK_COMPANY = {
    "JP": ([("Sakura", "さくら"), ("Fuji", "富士"), ("Yamato", "大和"), ("Nippon", "日本"),
            ("Tokai", "東海"), ("Hokuriku", "北陸"), ("Kansai", "関西"), ("Daiichi", "第一"),
            ("Asahi", "旭"), ("Mitsuboshi", "三星"), ("Chubu", "中部"), ("Kyushu", "九州")],
           [("Precision", "精密"), ("Electric", "電機"), ("Chemical", "化学"), ("Machinery", "機械"),
            ("Steel", "製鋼"), ("Electronics", "電子"), ("Motor", "モーター"), ("Trading", "商事"),
            ("Instruments", "計器"), ("Industries", "工業")],
           "{a} {b} Co., Ltd.", "{a}{b}株式会社"),
    "CN": ([("Huaxin", "华信"), ("Zhongke", "中科"), ("Hengtong", "恒通"), ("Jinlong", "金龙"),
            ("Tianhe", "天河"), ("Dongfang", "东方"), ("Haida", "海大"), ("Xinghua", "兴华"),
            ("Changjiang", "长江"), ("Guangming", "光明"), ("Shenzhen", "深圳"), ("Suzhou", "苏州")],
           [("Electronics", "电子"), ("Machinery", "机械"), ("Chemical", "化工"),
            ("New Energy", "新能源"), ("Auto Parts", "汽车零部件"), ("Precision", "精密"),
            ("Technology", "科技"), ("Materials", "材料")],
           "{a} {b} Co., Ltd.", "{a}{b}有限公司"),
    "KR": ([("Hanil", "한일"), ("Daehan", "대한"), ("Samil", "삼일"), ("Seoul", "서울"),
            ("Donga", "동아"), ("Hyunjin", "현진"), ("Busan", "부산"), ("Saehan", "새한")],
           [("Industrial", "산업"), ("Electronics", "전자"), ("Chemical", "화학"),
            ("Machinery", "기계"), ("Steel", "제강"), ("Precision", "정밀")],
           "{a} {b} Co., Ltd.", "{a}{b} 주식회사"),
}

# Suppliers that only exist in CLM (purchase contracts).
SUPPLIER_NAMES = [
    "Nordic Bearings AB", "Ruhr Stahlhandel GmbH", "Cabelec SAS", "Precision Castings Ltd",
    "Shenzhen Jiahe Electronics Co., Ltd.", "Osaka Seal Industries Co., Ltd.", "MetalSource Inc.",
    "Valvex S.p.A.", "Polymer Direct B.V.", "Sensortek GmbH", "Atlas Fasteners Corp.",
    "Hydroflow Components Ltd", "Pacific PCB Co., Ltd.", "Iberia Motores S.L.",
    "Danube Logistics GmbH", "Alpine Tooling AG",
]

# --- people --------------------------------------------------------------------

PEOPLE = {
    "DE": (["Anna", "Lukas", "Sophie", "Jonas", "Marie", "Felix", "Katrin", "Jürgen", "Sabine", "Uwe"],
           ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Wagner", "Becker", "Schulz"]),
    "FR": (["Camille", "Louis", "Chloé", "Hugo", "Léa", "Julien", "Manon", "Théo"],
           ["Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Girard", "Roux"]),
    "GB": (["Oliver", "Amelia", "Harry", "Isla", "George", "Emily", "Jack"],
           ["Smith", "Jones", "Taylor", "Brown", "Evans", "Walker", "Hughes"]),
    "NL": (["Daan", "Emma", "Sem", "Julia", "Lars", "Sanne"], ["de Jong", "Jansen", "Bakker", "Visser", "Smit"]),
    "IT": (["Giulia", "Marco", "Francesca", "Luca", "Chiara", "Matteo"], ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi"]),
    "ES": (["Lucía", "Javier", "Carmen", "Pablo", "Elena", "Sergio"], ["García", "Fernández", "López", "Martínez", "Sánchez"]),
    "SE": (["Elsa", "Erik", "Maja", "Oskar", "Astrid"], ["Andersson", "Johansson", "Karlsson", "Nilsson"]),
    "CH": (["Lea", "Noah", "Mia", "Luca", "Nina"], ["Meier", "Keller", "Brunner", "Gerber", "Baumann"]),
    "PL": (["Zofia", "Jakub", "Anna", "Piotr", "Katarzyna"], ["Nowak", "Kowalski", "Wiśniewski", "Wójcik"]),
    "US": (["James", "Mary", "Robert", "Jennifer", "Michael", "Linda", "David", "Sarah", "Kevin"],
           ["Johnson", "Williams", "Miller", "Davis", "Garcia", "Wilson", "Anderson", "Thomas"]),
    "CA": (["Liam", "Olivia", "Noah", "Charlotte", "Ethan"], ["Tremblay", "Gagnon", "Roy", "Campbell", "MacDonald"]),
    "JP": (["Haruto", "Yui", "Sota", "Aoi", "Ren", "Hina", "Takeshi", "Keiko"],
           ["Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto"]),
    "CN": (["Wei", "Fang", "Jing", "Lei", "Min", "Yang", "Hao"], ["Wang", "Li", "Zhang", "Liu", "Chen", "Zhao"]),
    "KR": (["Minjun", "Seoyeon", "Jiho", "Jiwoo", "Hyun"], ["Kim", "Lee", "Park", "Choi", "Jung"]),
    "SG": (["Wei Ling", "Ravi", "Siti", "Marcus", "Hui Min"], ["Tan", "Lim", "Ng", "Wong", "Kumar"]),
    "IN": (["Aarav", "Priya", "Vivaan", "Ananya", "Rohan", "Isha"], ["Sharma", "Patel", "Gupta", "Reddy", "Iyer"]),
    "AU": (["Jack", "Charlotte", "William", "Ruby", "Cooper"], ["Smith", "Kelly", "Murphy", "Mitchell", "Ryan"]),
    "BR": (["João", "Ana", "Pedro", "Juliana", "Gabriel", "Beatriz"], ["Silva", "Santos", "Oliveira", "Souza", "Pereira"]),
    "MX": (["José", "Sofía", "Diego", "Valentina", "Carlos"], ["Hernández", "González", "Ramírez", "Torres", "Flores"]),
    "AR": (["Santiago", "Martina", "Mateo", "Camila"], ["González", "Rodríguez", "Gómez", "Díaz"]),
    "CL": (["Benjamín", "Isidora", "Vicente", "Florencia"], ["Muñoz", "Rojas", "Díaz", "Contreras"]),
}

PHONE_PREFIX = {
    "DE": "+49", "FR": "+33", "GB": "+44", "NL": "+31", "IT": "+39", "ES": "+34", "SE": "+46",
    "CH": "+41", "PL": "+48", "US": "+1", "CA": "+1", "JP": "+81", "CN": "+86", "KR": "+82",
    "SG": "+65", "IN": "+91", "AU": "+61", "BR": "+55", "MX": "+52", "AR": "+54", "CL": "+56",
}

TITLES = [
    "Head of Procurement", "Purchasing Manager", "Plant Manager", "CFO", "Accounts Payable",
    "Maintenance Lead", "Chief Engineer", "Supply Chain Director", "Quality Manager", "CEO",
    "Operations Director", "Buyer",
]

# --- products ------------------------------------------------------------------

# (English, German, uom, typical unit cost in EUR)
PURCHASED_ITEMS = [
    ("Hex bolt", "Sechskantschraube", "EA", 0.4), ("Lock nut", "Sicherungsmutter", "EA", 0.3),
    ("Washer", "Unterlegscheibe", "EA", 0.1), ("Ball bearing", "Kugellager", "EA", 12),
    ("Roller bearing", "Rollenlager", "EA", 28), ("Shaft seal", "Wellendichtring", "EA", 4),
    ("O-ring", "O-Ring", "EA", 0.6), ("Steel sheet", "Stahlblech", "KG", 1.8),
    ("Aluminium profile", "Aluminiumprofil", "M", 9), ("Copper cable", "Kupferkabel", "M", 3.5),
    ("Hydraulic oil", "Hydrauliköl", "L", 6), ("Gear wheel", "Zahnrad", "EA", 35),
    ("Drive belt", "Antriebsriemen", "EA", 18), ("Servo motor", "Servomotor", "EA", 420),
    ("Induction motor", "Asynchronmotor", "EA", 310), ("Proximity sensor", "Näherungssensor", "EA", 45),
    ("Pressure sensor", "Drucksensor", "EA", 95), ("Solenoid valve", "Magnetventil", "EA", 60),
    ("Ball valve", "Kugelhahn", "EA", 38), ("PLC module", "SPS-Modul", "EA", 650),
    ("Power supply", "Netzteil", "EA", 85), ("Circuit board", "Leiterplatte", "EA", 55),
    ("Touch panel", "Bedienpanel", "EA", 780), ("Frequency inverter", "Frequenzumrichter", "EA", 540),
    ("Pneumatic cylinder", "Pneumatikzylinder", "EA", 110), ("Linear guide", "Linearführung", "EA", 140),
    ("Coupling", "Kupplung", "EA", 48), ("Spring", "Feder", "EA", 0.9),
    ("Hose", "Schlauch", "M", 7), ("Cable gland", "Kabelverschraubung", "EA", 1.2),
    ("Terminal block", "Reihenklemme", "EA", 2.5), ("Fan", "Lüfter", "EA", 32),
    ("Filter cartridge", "Filterpatrone", "EA", 22), ("Paint RAL 7035", "Lack RAL 7035", "L", 14),
    ("Plastic housing", "Kunststoffgehäuse", "EA", 16), ("Cast iron blank", "Graugussrohling", "KG", 2.6),
    ("Limit switch", "Endschalter", "EA", 21), ("Relay", "Relais", "EA", 8),
]

# Manufactured items by BOM level: (English, German)
MANUFACTURED_ITEMS = {
    1: [("Gearbox assembly", "Getriebebaugruppe"), ("Sensor kit", "Sensorsatz"),
        ("Valve block", "Ventilblock"), ("Control board", "Steuerplatine"),
        ("Motor mount", "Motorhalterung"), ("Cable harness", "Kabelbaum"),
        ("Frame weldment", "Rahmenschweißteil"), ("Pump unit", "Pumpeneinheit")],
    2: [("Drive unit", "Antriebseinheit"), ("Hydraulic power pack", "Hydraulikaggregat"),
        ("Control cabinet", "Schaltschrank"), ("Conveyor module", "Fördermodul"),
        ("Handling unit", "Handhabungseinheit"), ("Dosing station", "Dosierstation")],
    3: [("Packaging machine", "Verpackungsmaschine"), ("Assembly cell", "Montagezelle"),
        ("Filling line", "Abfüllanlage"), ("Palletiser", "Palettierer"),
        ("Test bench", "Prüfstand"), ("Labelling system", "Etikettiersystem")],
}

WAREHOUSES = [
    ("WH-EU", "Central warehouse Frankfurt", "EMEA"),
    ("WH-US", "Distribution center Chicago", "NA"),
    ("WH-SG", "APAC hub Singapore", "APAC"),
    ("WH-BR", "LATAM warehouse São Paulo", "LATAM"),
]

# --- CRM, CLM, DESK texts ------------------------------------------------------------

ACTIVITY_SUBJECTS = {
    "CALL": ["Follow-up on quote", "Delivery status call", "Quarterly check-in", "Payment reminder call",
             "Technical clarification"],
    "MEETING": ["Annual business review", "Contract renewal meeting", "Product roadmap presentation",
                "Escalation meeting", "Pricing negotiation"],
    "EMAIL": ["Sent updated price list", "Sent order confirmation", "Shared spare parts catalogue",
              "Answered technical question", "Sent meeting minutes"],
    "VISIT": ["Plant visit", "Installation acceptance visit", "Trade fair meeting", "Site survey",
              "Executive visit"],
}

OPPORTUNITY_TOPICS = [
    "Line expansion", "Spare parts framework", "Retrofit project", "New plant equipment",
    "Service contract upgrade", "Automation pilot", "Replacement of legacy machines",
]

OPPORTUNITY_STAGES = [
    ("PROSPECTING", 0.1), ("QUALIFICATION", 0.2), ("PROPOSAL", 0.4), ("NEGOTIATION", 0.7),
    ("CLOSED_WON", 1.0), ("CLOSED_LOST", 0.0),
]

MILESTONES = {
    "SALES": ["Kick-off", "First delivery", "Volume review", "Price review", "Final delivery"],
    "SERVICE": ["Site survey", "Preventive maintenance", "Spare parts audit", "Annual inspection",
                "Service report"],
    "PURCHASE": ["Supplier audit", "First article inspection", "Quality review", "Volume commitment"],
}

TICKET_SUBJECTS = {
    "INQUIRY": ["Question about invoice", "Spare parts availability for {product}",
                "Request for documentation: {product}", "Delivery date inquiry"],
    "COMPLAINT": ["Late delivery", "Damaged packaging on delivery", "Wrong quantity delivered",
                  "Invoice amount disputed", "Poor finish on {product}"],
    "RETURN": ["Return request: {product}", "Wrong item shipped: {product}", "Return of surplus stock"],
    "REPAIR": ["{product} stops intermittently", "{product} leaking", "{product} error code E{code}",
               "Noise from {product}"],
}

# Optional city qualifiers that keep generated company names unique.
CITIES = {
    "DE": ["Stuttgart", "München", "Köln", "Düsseldorf", "Nürnberg", "Bremen", "Dresden", "Lübeck"],
    "FR": ["Lyon", "Toulouse", "Nantes", "Grenoble", "Besançon", "Orléans", "Rouen", "Reims"],
    "GB": ["Leeds", "Sheffield", "Bristol", "Coventry", "Derby", "Glasgow", "Swindon"],
    "NL": ["Eindhoven", "Rotterdam", "Utrecht", "Tilburg", "Groningen", "Delft"],
    "IT": ["Milano", "Torino", "Bologna", "Verona", "Bergamo", "Modena"],
    "ES": ["Zaragoza", "Valencia", "Sevilla", "Málaga", "Vigo", "Bilbao"],
    "SE": ["Göteborg", "Malmö", "Västerås", "Örebro", "Umeå", "Luleå"],
    "CH": ["Zürich", "Winterthur", "Luzern", "Genève", "St. Gallen", "Biel"],
    "PL": ["Poznań", "Kraków", "Katowice", "Bydgoszcz", "Lublin", "Gdynia"],
    "US": ["Ohio", "Texas", "Carolina", "Michigan", "Oregon", "Georgia", "Arizona", "Indiana"],
    "CA": ["Toronto", "Calgary", "Winnipeg", "Hamilton", "Quebec"],
    "SG": ["Tuas", "Changi", "Woodlands", "Kallang"],
    "IN": ["Pune", "Chennai", "Coimbatore", "Ahmedabad", "Bengaluru"],
    "AU": ["Perth", "Adelaide", "Brisbane", "Newcastle"],
    "BR": ["Campinas", "Joinville", "Curitiba", "Caxias do Sul", "Belo Horizonte"],
    "MX": ["Monterrey", "Puebla", "Saltillo", "Guadalajara"],
    "AR": ["Rosario", "Mendoza", "Tucumán"],
    "CL": ["Santiago", "Valparaíso", "Concepción"],
    "JP": [("Osaka", "大阪"), ("Nagoya", "名古屋"), ("Yokohama", "横浜"), ("Kobe", "神戸"),
           ("Sendai", "仙台"), ("Hiroshima", "広島")],
    "CN": [("Shanghai", "上海"), ("Ningbo", "宁波"), ("Wuxi", "无锡"), ("Tianjin", "天津"),
           ("Chengdu", "成都"), ("Xiamen", "厦门")],
    "KR": [("Incheon", "인천"), ("Ulsan", "울산"), ("Daegu", "대구"), ("Changwon", "창원")],
}

EMAIL_TLD = {
    "DE": "de", "FR": "fr", "GB": "co.uk", "NL": "nl", "IT": "it", "ES": "es", "SE": "se",
    "CH": "ch", "PL": "pl", "US": "com", "CA": "ca", "JP": "co.jp", "CN": "cn", "KR": "co.kr",
    "SG": "com.sg", "IN": "in", "AU": "com.au", "BR": "com.br", "MX": "com.mx", "AR": "com.ar",
    "CL": "cl",
}
