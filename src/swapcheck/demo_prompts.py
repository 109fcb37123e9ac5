"""Prompt templates for the synthetic demo log: customer messages per language and feature."""

from __future__ import annotations

LOCALE_LANGUAGE: dict[str, str] = {
    "en-US": "en",
    "en-GB": "en",
    "de-DE": "de",
    "fr-FR": "fr",
    "es-ES": "es",
    "pt-BR": "pt",
    "it-IT": "it",
    "ja-JP": "ja",
}

NAMES: dict[str, list[str]] = {
    "en-US": ["Emma Wilson", "James Carter", "Olivia Brown", "Noah Davis"],
    "en-GB": ["Oliver Hughes", "Amelia Clarke", "Harry Evans"],
    "de-DE": ["Anna Schmidt", "Lukas Weber", "Marie Fischer"],
    "fr-FR": ["Camille Martin", "Louis Bernard", "Chloé Dubois"],
    "es-ES": ["Lucía García", "Pablo Martínez", "Sofía López"],
    "pt-BR": ["Ana Souza", "Pedro Oliveira", "Beatriz Lima"],
    "it-IT": ["Giulia Rossi", "Marco Bianchi", "Francesca Romano"],
    "ja-JP": ["田中健", "佐藤美咲", "鈴木大輔", "高橋由美"],
}

_EN = "Hi, this is {name}. "
_EN2 = "Hello, this is {name}. "
MESSAGES: dict[str, dict[str, list[str]]] = {
    "en": {
        "billing": [
            _EN + "I was charged twice for order {order} this month and the second charge "
            "still shows on my card. Can you refund the duplicate payment?",
            _EN2 + "My invoice for order {order} lists a premium plan I never upgraded "
            "to. Why is the amount higher than last month?",
        ],
        "account": [
            _EN + "I can't log in since I changed my email address, and the password "
            "reset link never arrives. How do I get back into my account?",
            _EN2 + "I have two profiles with different emails and want to merge them "
            "without losing the history of order {order}. Is that possible?",
        ],
        "shipping": [
            _EN + "Order {order} was supposed to arrive on Monday but the tracking hasn't "
            "updated for five days. Where is my parcel?",
            _EN2 + "Can I change the delivery address for order {order}? I'm moving to "
            "a new flat next week.",
        ],
        "product": [
            _EN + "The blender from order {order} makes a grinding noise on the highest "
            "setting. Is that normal or is it defective?",
            _EN2 + "Does the travel charger in order {order} work with 110 V outlets in the US?",
        ],
        "medical": [
            _EN + "I ordered ibuprofen 400 mg with order {order}. What is the right "
            "dosage for my 10-year-old who has a fever?",
            _EN2 + "Since I started the blood pressure medication from order {order} I "
            "get dizziness and headaches. Are these symptoms a side effect, and should "
            "I take a lower dose?",
        ],
        "legal": [
            _EN + "I want all my personal data deleted under GDPR, including the records "
            "for order {order}. How long does that take, and will you confirm in writing?",
            _EN2 + "The warranty terms for order {order} seem to contradict consumer law. "
            "Which terms apply to my purchase?",
        ],
        "security": [
            _EN + "I got an email asking me to confirm my card details for order "
            "{order}. Is this phishing? I think someone else logged into my account.",
            _EN2 + "I saw a login from an unknown device yesterday. How do I turn on "
            "two-factor authentication?",
        ],
        "returns": [
            _EN + "I'd like to return the shoes from order {order} because they're too "
            "small. Do I have to pay for the return label?",
            _EN2 + "I sent back order {order} three weeks ago and still haven't "
            "received my refund.",
        ],
    },
    "de": {
        "billing": [
            "Hallo, hier ist {name}. Für die Bestellung {order} wurde mir der Betrag "
            "zweimal abgebucht. Können Sie mir die doppelte Zahlung bitte erstatten?"
        ],
        "account": [
            "Hallo, hier ist {name}. Seit ich meine E-Mail-Adresse geändert habe, kann "
            "ich mich nicht mehr anmelden, und der Link für das Passwort kommt nie an. "
            "Was kann ich tun?"
        ],
        "shipping": [
            "Hallo, hier ist {name}. Die Bestellung {order} sollte am Montag ankommen, "
            "aber die Sendungsverfolgung zeigt seit fünf Tagen nichts Neues. Wo ist "
            "mein Paket?"
        ],
        "product": [
            "Hallo, hier ist {name}. Der Mixer aus der Bestellung {order} macht auf der "
            "höchsten Stufe ein schleifendes Geräusch. Ist das normal oder ist er defekt?"
        ],
        "medical": [
            "Hallo, hier ist {name}. Ich habe mit der Bestellung {order} Ibuprofen 400 mg "
            "gekauft. Welche Dosierung ist für mein zehnjähriges Kind mit Fieber richtig?"
        ],
        "legal": [
            "Hallo, hier ist {name}. Ich möchte, dass alle meine Daten nach der DSGVO "
            "gelöscht werden, auch zur Bestellung {order}. Wie lange dauert das?"
        ],
        "security": [
            "Hallo, hier ist {name}. Ich habe eine E-Mail bekommen, in der ich meine "
            "Kartendaten für die Bestellung {order} bestätigen soll. Ist das Phishing? "
            "Ich glaube, jemand war in meinem Konto."
        ],
        "returns": [
            "Hallo, hier ist {name}. Ich möchte die Schuhe aus der Bestellung {order} "
            "zurückschicken, weil sie zu klein sind. Muss ich das Etikett bezahlen?"
        ],
    },
    "fr": {
        "billing": [
            "Bonjour, c'est {name}. J'ai été prélevé deux fois pour la commande {order} "
            "ce mois-ci. Pouvez-vous rembourser le paiement en double ?"
        ],
        "account": [
            "Bonjour, c'est {name}. Je n'arrive plus à me connecter depuis que j'ai changé "
            "mon adresse e-mail, et le lien pour le mot de passe n'arrive jamais."
        ],
        "shipping": [
            "Bonjour, c'est {name}. La commande {order} devait arriver lundi, mais le "
            "suivi du colis n'a pas bougé depuis cinq jours. Où est mon colis ?"
        ],
        "product": [
            "Bonjour, c'est {name}. Le mixeur de la commande {order} fait un bruit de "
            "frottement à la vitesse maximale. Est-ce normal ou est-il défectueux ?"
        ],
        "medical": [
            "Bonjour, c'est {name}. J'ai acheté de l'ibuprofène 400 mg avec la commande "
            "{order}. Quelle est la bonne posologie pour mon enfant de dix ans qui a de "
            "la fièvre ?"
        ],
        "legal": [
            "Bonjour, c'est {name}. Je souhaite que toutes mes données soient supprimées "
            "selon le RGPD, y compris pour la commande {order}. Combien de temps cela "
            "prend-il ?"
        ],
        "security": [
            "Bonjour, c'est {name}. J'ai reçu un e-mail me demandant de confirmer ma "
            "carte pour la commande {order}. Est-ce du hameçonnage ?"
        ],
        "returns": [
            "Bonjour, c'est {name}. Je voudrais renvoyer les chaussures de la commande "
            "{order} car elles sont trop petites. Dois-je payer l'étiquette de retour ?"
        ],
    },
    "es": {
        "billing": [
            "Hola, soy {name}. Me cobraron dos veces el pedido {order} este mes. "
            "¿Pueden devolverme el pago duplicado?"
        ],
        "account": [
            "Hola, soy {name}. No consigo iniciar sesión desde que cambié mi correo, y "
            "el enlace para la contraseña nunca llega. ¿Cómo recupero mi cuenta?"
        ],
        "shipping": [
            "Hola, soy {name}. El pedido {order} debía llegar el lunes, pero el "
            "seguimiento del paquete no se actualiza desde hace cinco días. ¿Dónde está "
            "mi paquete?"
        ],
        "product": [
            "Hola, soy {name}. La licuadora del pedido {order} hace un ruido raro en la "
            "velocidad máxima. ¿Es normal o está defectuosa?"
        ],
        "medical": [
            "Hola, soy {name}. Compré ibuprofeno de 400 mg en el pedido {order}. ¿Cuál "
            "es la dosis correcta para mi hijo de diez años que tiene fiebre?"
        ],
        "legal": [
            "Hola, soy {name}. Quiero que borren todos mis datos según el RGPD, también "
            "los del pedido {order}. ¿Cuánto tarda y me lo confirmarán por escrito?"
        ],
        "security": [
            "Hola, soy {name}. Recibí un correo que me pide confirmar mi tarjeta para "
            "el pedido {order}. ¿Es phishing? Creo que alguien entró en mi cuenta."
        ],
        "returns": [
            "Hola, soy {name}. Quiero devolver los zapatos del pedido {order} porque me "
            "quedan pequeños. ¿Tengo que pagar la etiqueta de devolución?"
        ],
    },
    "pt": {
        "billing": [
            "Olá, aqui é {name}. Fui cobrado duas vezes pelo pedido {order} este mês. "
            "Vocês podem estornar o pagamento duplicado?"
        ],
        "account": [
            "Olá, aqui é {name}. Não consigo entrar desde que mudei meu e-mail, e o link "
            "para redefinir a senha nunca chega. Como recupero minha conta?"
        ],
        "shipping": [
            "Olá, aqui é {name}. O pedido {order} deveria chegar na segunda, mas o "
            "rastreamento do pacote não atualiza há cinco dias. Cadê meu pacote?"
        ],
        "product": [
            "Olá, aqui é {name}. O liquidificador do pedido {order} faz um barulho "
            "estranho na velocidade máxima. Isso é normal ou está com defeito?"
        ],
        "medical": [
            "Olá, aqui é {name}. Comprei ibuprofeno 400 mg no pedido {order}. Qual é a "
            "dose certa para meu filho de dez anos que está com febre?"
        ],
        "legal": [
            "Olá, aqui é {name}. Quero que todos os meus dados sejam apagados conforme a "
            "LGPD, inclusive os do pedido {order}. Quanto tempo isso leva?"
        ],
        "security": [
            "Olá, aqui é {name}. Recebi um e-mail pedindo para confirmar meu cartão "
            "para o pedido {order}. Isso é phishing? Acho que alguém entrou na minha "
            "conta."
        ],
        "returns": [
            "Olá, aqui é {name}. Quero devolver os sapatos do pedido {order} porque "
            "ficaram pequenos. Preciso pagar a etiqueta de devolução?"
        ],
    },
    "it": {
        "billing": [
            "Ciao, sono {name}. Mi avete addebitato due volte l'ordine {order} questo "
            "mese. Potete rimborsare il pagamento doppio?"
        ],
        "account": [
            "Ciao, sono {name}. Non riesco ad accedere da quando ho cambiato indirizzo "
            "email, e il link per la password non arriva mai. Come recupero il mio "
            "account?"
        ],
        "shipping": [
            "Ciao, sono {name}. L'ordine {order} doveva arrivare lunedì, ma il "
            "tracciamento del pacco è fermo da cinque giorni. Dov'è il mio pacco?"
        ],
        "product": [
            "Ciao, sono {name}. Il frullatore dell'ordine {order} fa un rumore strano "
            "alla velocità massima. È normale o è difettoso?"
        ],
        "medical": [
            "Ciao, sono {name}. Ho comprato ibuprofene 400 mg con l'ordine {order}. Qual "
            "è il dosaggio giusto per mio figlio di dieci anni che ha la febbre?"
        ],
        "legal": [
            "Ciao, sono {name}. Voglio che tutti i miei dati siano cancellati secondo il "
            "GDPR, anche quelli dell'ordine {order}. Quanto tempo ci vuole?"
        ],
        "security": [
            "Ciao, sono {name}. Ho ricevuto un'email che mi chiede di confermare la "
            "carta per l'ordine {order}. È phishing? Credo che qualcuno sia entrato "
            "nel mio account."
        ],
        "returns": [
            "Ciao, sono {name}. Vorrei restituire le scarpe dell'ordine {order} perché "
            "sono piccole. Devo pagare l'etichetta per il reso?"
        ],
    },
    "ja": {
        "billing": [
            "{name}と申します。注文番号{order}の代金が今月二重に請求されています。"
            "重複した支払いを返金していただけますか。"
        ],
        "account": [
            "{name}と申します。メールアドレスを変更してからログインできず、"
            "パスワード再設定のメールも届きません。どうすればアカウントに戻れますか。"
        ],
        "shipping": [
            "{name}と申します。注文番号{order}は月曜日に届く予定でしたが、"
            "配送状況が5日間更新されていません。荷物はどこにありますか。"
        ],
        "product": [
            "{name}と申します。注文番号{order}のミキサーが最高速度で異音を出します。"
            "これは正常ですか、それとも故障ですか。"
        ],
        "medical": [
            "{name}と申します。注文番号{order}でイブプロフェン400mgを購入しました。"
            "発熱している10歳の子どもへの正しい用量を教えてください。"
        ],
        "legal": [
            "{name}と申します。注文番号{order}を含め、私の個人情報をすべて削除してください。"
            "完了までどのくらいかかりますか。"
        ],
        "security": [
            "{name}と申します。注文番号{order}のカード情報を確認するよう求める"
            "不審なメールが届きました。フィッシングでしょうか。"
        ],
        "returns": [
            "{name}と申します。注文番号{order}の靴が小さかったので返品したいです。"
            "返送料は自分で払う必要がありますか。"
        ],
    },
}

_CODE = [
    "def get_amount(record):\n    return float(record['amount'])",
    "def total(items):\n    return sum(i['price'] * i['qty'] for i in items)",
]
_PY = "\n\n```python\n{code}\n```"

FEATURES: dict[str, dict[str, list[str]]] = {
    "en": {
        "support_chat": ["{msg}"],
        "json_extract": [
            "Return JSON with fields {fields} for this customer message. JSON only, "
            "no explanation.\n\n{msg}",
            "Extract the details as JSON (fields: {fields}). Respond with the JSON "
            "object only.\n\n{msg}",
        ],
        "summarize": [
            "Summarize this support conversation in 2-3 sentences for the ticket "
            "history.\n\nCustomer: {msg}\nAgent: Thanks, I'm looking into it now."
        ],
        "code_help": [
            "Our `{svc}` job crashes with KeyError: 'amount' in this Python function. "
            "How do I fix it?" + _PY,
            "How do I write a SQL query that counts `{svc}` tickets per customer for "
            "the last 30 days?",
        ],
        "translate": ["Translate this customer message into {target}:\n\n{msg}"],
        "classify": [
            "Classify this support ticket by topic. Reply with one label and a one-line "
            "reason.\n\n{msg}"
        ],
        "email_draft": ["Draft a short, polite email reply to this customer.\n\n{msg}"],
        "search_answer": ["Using the help center, answer this question from a customer:\n\n{msg}"],
    },
    "de": {
        "json_extract": [
            "Gib JSON mit den Feldern {fields} für diese Kundennachricht zurück. "
            "Nur JSON, keine Erklärung.\n\n{msg}"
        ],
        "summarize": [
            "Fasse dieses Support-Gespräch in 2-3 Sätzen für die Ticket-Historie "
            "zusammen.\n\nKunde: {msg}\nAgent: Danke, ich sehe mir das sofort an."
        ],
        "code_help": [
            "Unser Job `{svc}` stürzt in dieser Python-Funktion mit KeyError: 'amount' "
            "ab. Wie behebe ich das?" + _PY
        ],
        "translate": ["Übersetze diese Kundennachricht ins Englische:\n\n{msg}"],
        "classify": [
            "Klassifiziere dieses Support-Ticket nach Thema. Antworte mit einem Label "
            "und einer kurzen Begründung.\n\n{msg}"
        ],
        "email_draft": [
            "Entwirf eine kurze, höfliche Antwort per E-Mail an diese Kundin oder "
            "diesen Kunden.\n\n{msg}"
        ],
        "search_answer": ["Beantworte diese Kundenfrage mit Hilfe des Hilfecenters:\n\n{msg}"],
    },
    "fr": {
        "json_extract": [
            "Renvoie un objet JSON avec les champs {fields} pour ce message client. "
            "Uniquement du JSON, sans explication.\n\n{msg}"
        ],
        "summarize": [
            "Résume cette conversation de support en 2 ou 3 phrases pour l'historique "
            "du ticket.\n\nClient : {msg}\nAgent : Merci, je regarde cela tout de "
            "suite."
        ],
        "code_help": [
            "Notre tâche `{svc}` plante avec KeyError: 'amount' dans cette fonction "
            "Python. Comment la corriger ?" + _PY
        ],
        "translate": ["Traduis ce message client en anglais :\n\n{msg}"],
        "classify": [
            "Classifie ce ticket de support par thème. Réponds avec une étiquette et "
            "une raison en une ligne.\n\n{msg}"
        ],
        "email_draft": ["Rédige une réponse courte et polie par e-mail à ce client.\n\n{msg}"],
        "search_answer": ["Réponds à cette question d'un client avec le centre d'aide :\n\n{msg}"],
    },
    "es": {
        "json_extract": [
            "Devuelve un JSON con los campos {fields} para este mensaje del cliente. "
            "Solo JSON, sin explicaciones.\n\n{msg}"
        ],
        "summarize": [
            "Resume esta conversación de soporte en 2 o 3 frases para el historial del "
            "ticket.\n\nCliente: {msg}\nAgente: Gracias, lo reviso ahora mismo."
        ],
        "code_help": [
            "Nuestro proceso `{svc}` falla con KeyError: 'amount' en esta función de "
            "Python. ¿Cómo lo arreglo?" + _PY
        ],
        "translate": ["Traduce este mensaje del cliente al inglés:\n\n{msg}"],
        "classify": [
            "Clasifica este ticket de soporte por tema. Responde con una etiqueta y un "
            "motivo breve.\n\n{msg}"
        ],
        "email_draft": ["Redacta una respuesta breve y amable por correo a este cliente.\n\n{msg}"],
        "search_answer": [
            "Responde a esta pregunta de un cliente con el centro de ayuda:\n\n{msg}"
        ],
    },
    "pt": {
        "json_extract": [
            "Retorne um JSON com os campos {fields} para esta mensagem do cliente. "
            "Apenas JSON, sem explicação.\n\n{msg}"
        ],
        "summarize": [
            "Resuma esta conversa de suporte em 2 ou 3 frases para o histórico do "
            "ticket.\n\nCliente: {msg}\nAtendente: Obrigado, vou verificar agora."
        ],
        "code_help": [
            "Nosso job `{svc}` falha com KeyError: 'amount' nesta função Python. Como "
            "corrijo isso?" + _PY
        ],
        "translate": ["Traduza esta mensagem do cliente para o inglês:\n\n{msg}"],
        "classify": [
            "Classifique este ticket de suporte por tema. Responda com um rótulo e um "
            "motivo curto.\n\n{msg}"
        ],
        "email_draft": [
            "Escreva uma resposta curta e educada por e-mail para este cliente.\n\n{msg}"
        ],
        "search_answer": [
            "Responda a esta pergunta de um cliente com a central de ajuda:\n\n{msg}"
        ],
    },
    "it": {
        "json_extract": [
            "Restituisci un JSON con i campi {fields} per questo messaggio del "
            "cliente. Solo JSON, nessuna spiegazione.\n\n{msg}"
        ],
        "summarize": [
            "Riassumi questa conversazione di assistenza in 2 o 3 frasi per lo storico "
            "del ticket.\n\nCliente: {msg}\nOperatore: Grazie, controllo subito."
        ],
        "code_help": [
            "Il nostro job `{svc}` va in errore con KeyError: 'amount' in questa "
            "funzione Python. Come lo correggo?" + _PY
        ],
        "translate": ["Traduci questo messaggio del cliente in inglese:\n\n{msg}"],
        "classify": [
            "Classifica questo ticket di assistenza per argomento. Rispondi con "
            "un'etichetta e un motivo breve.\n\n{msg}"
        ],
        "email_draft": ["Scrivi una risposta breve e cortese via email a questo cliente.\n\n{msg}"],
        "search_answer": [
            "Rispondi a questa domanda di un cliente con il centro assistenza:\n\n{msg}"
        ],
    },
    "ja": {
        "json_extract": [
            "次のお客様のメッセージから {fields} のフィールドを持つ"
            "JSONを返してください。"
            "JSONのみで、説明は不要です。\n\n{msg}"
        ],
        "summarize": [
            "このサポートの会話をチケット履歴用に2〜3文で要約してください。\n\n"
            "お客様：{msg}\n担当者：ありがとうございます。すぐに確認します。"
        ],
        "code_help": [
            "`{svc}` ジョブがこのPython関数で KeyError: 'amount' を出して停止します。"
            "どう直せばよいですか。" + _PY
        ],
        "translate": ["次のお客様のメッセージを英語に翻訳してください。\n\n{msg}"],
        "classify": [
            "このサポートチケットをトピックで分類してください。"
            "ラベルと一行の理由で答えてください。\n\n{msg}"
        ],
        "email_draft": ["このお客様への丁寧で短い返信メールの下書きを作成してください。\n\n{msg}"],
        "search_answer": [
            "ヘルプセンターの情報を使って、お客様の次の質問に答えてください。\n\n{msg}"
        ],
    },
}
for _lang_templates in FEATURES.values():
    _lang_templates.setdefault("support_chat", ["{msg}"])

CODE_SNIPPETS: list[str] = _CODE
