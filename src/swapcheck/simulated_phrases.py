"""Phrase templates per language that the simulated model assembles its answers from."""

from __future__ import annotations

PHRASES: dict[str, dict[str, list[str]]] = {
    "en": {
        "open": [
            "Thanks for reaching out about “{ref}”.",
            "Happy to help with {topic}.",
            "Thank you for your message regarding {topic}.",
        ],
        "order": [
            "I've checked order {order} on our side.",
            "I can see order {order} in our system.",
        ],
        "body": [
            "The quickest fix is to open Settings, choose the relevant section and follow "
            "the steps shown there.",
            "If the problem persists, reply with a screenshot and we'll escalate it to the "
            "right team within one business day.",
            "You can track the status at any time from your account dashboard.",
            "I've added a note to your case so you won't need to repeat the details.",
        ],
        "close": ["Let me know if there's anything else I can do.", "Have a great day!"],
        "summary": [
            "Summary: {s1}. The customer also notes that {s2}.",
            "The message is about {topic}: {s1}. Key point: {s2}.",
            "In short, {s1}. They add that {s2}, and expect a follow-up.",
        ],
        "code_intro": [
            "The problem in “{ref}” is that the code assumes a key or value is always present.",
            "This usually happens when the input is missing a field.",
            "You can make this robust by validating the input first.",
        ],
        "code_after": [
            "Add a test with an empty input to make sure it stays fixed.",
            "This keeps the happy path unchanged and fails gracefully otherwise.",
        ],
        "classify": [
            "Label: {label}\nReason: the message mentions “{kw}”.",
            "Category: {label}\nReason: the customer is asking about “{kw}”.",
        ],
        "email": [
            "Subject: Your request about {topic}\n\nDear {name},",
            "Subject: Update on {topic}\n\nHello {name},",
        ],
        "signoff": ["Best regards,\nAcme Support", "Kind regards,\nThe Acme team"],
        "translate": [
            "Hello, this is {name}.",
            "I have a question about {topic}.",
            "It concerns order {order}.",
            "Could you please help me?",
        ],
        "thanks": ["Thanks in advance."],
        "fence": ["Sure! Here is the JSON you asked for:"],
        "refusal": [
            "I'm sorry, but I can't help with medical questions. "
            "Please consult a healthcare professional."
        ],
    },
    "de": {
        "open": [
            "Danke für Ihre Nachricht zu „{ref}“.",
            "Gerne helfe ich Ihnen bei {topic}.",
            "Vielen Dank für Ihre Anfrage zu {topic}.",
        ],
        "order": [
            "Ich habe die Bestellung {order} bei uns geprüft.",
            "Die Bestellung {order} ist in unserem System sichtbar.",
        ],
        "body": [
            "Am schnellsten geht es über die Einstellungen: Wählen Sie den passenden "
            "Bereich und folgen Sie den Schritten.",
            "Falls das Problem bleibt, antworten Sie mit einem Screenshot, dann leiten wir "
            "es innerhalb eines Werktags weiter.",
            "Den Status sehen Sie jederzeit in Ihrem Kundenkonto.",
            "Ich habe eine Notiz zu Ihrem Fall hinzugefügt.",
        ],
        "close": [
            "Melden Sie sich gerne, wenn ich noch etwas tun kann.",
            "Einen schönen Tag noch!",
        ],
        "summary": [
            "Zusammenfassung: {s1}. Außerdem: {s2}.",
            "Thema ist {topic}: {s1}. Wichtig ist: {s2}.",
            "Kurz gesagt: {s1}. Zusätzlich wird erwähnt: {s2}.",
        ],
        "code_intro": [
            "Das Problem bei „{ref}“ ist, dass der Code einen Wert immer erwartet.",
            "Das passiert meist, wenn ein Feld in der Eingabe fehlt.",
            "Prüfen Sie die Eingabe zuerst, dann ist die Funktion robust.",
        ],
        "code_after": [
            "Ein Test mit leerer Eingabe stellt sicher, dass es so bleibt.",
            "Der Normalfall bleibt unverändert, Fehler werden sauber behandelt.",
        ],
        "classify": [
            "Kategorie: {label}\nBegründung: Die Nachricht erwähnt „{kw}“.",
            "Label: {label}\nBegründung: Die Anfrage betrifft „{kw}“.",
        ],
        "email": [
            "Betreff: Ihre Anfrage zu {topic}\n\nGuten Tag {name},",
            "Betreff: Neuigkeiten zu {topic}\n\nHallo {name},",
        ],
        "signoff": ["Mit freundlichen Grüßen\nIhr Acme-Support", "Viele Grüße\nIhr Acme-Team"],
        "translate": [
            "Hallo, hier ist {name}.",
            "Ich habe eine Frage zu {topic}.",
            "Es geht um die Bestellung {order}.",
            "Können Sie mir bitte helfen?",
        ],
        "thanks": ["Vielen Dank im Voraus."],
        "fence": ["Klar! Hier ist das gewünschte JSON:"],
        "refusal": [
            "Es tut mir leid, aber bei medizinischen Fragen kann ich nicht helfen. "
            "Bitte wenden Sie sich an eine Ärztin oder einen Arzt."
        ],
    },
    "fr": {
        "open": [
            "Merci pour votre message concernant « {ref} ».",
            "Je suis ravi de vous aider pour {topic}.",
            "Merci de nous avoir contactés au sujet de {topic}.",
        ],
        "order": [
            "J'ai vérifié la commande {order} de notre côté.",
            "Je vois bien la commande {order} dans notre système.",
        ],
        "body": [
            "Le plus simple est d'ouvrir les Paramètres, de choisir la bonne rubrique et "
            "de suivre les étapes.",
            "Si le problème persiste, répondez avec une capture d'écran et nous transmettrons "
            "votre demande sous un jour ouvré.",
            "Vous pouvez suivre l'état à tout moment depuis votre espace client.",
            "J'ai ajouté une note à votre dossier.",
        ],
        "close": ["N'hésitez pas si je peux faire autre chose.", "Excellente journée !"],
        "summary": [
            "Résumé : {s1}. Le client précise aussi que {s2}.",
            "Le message porte sur {topic} : {s1}. Point clé : {s2}.",
            "En bref, {s1}. Il ajoute que {s2}.",
        ],
        "code_intro": [
            "Le problème dans « {ref} » vient du fait que le code suppose qu'une "
            "valeur existe toujours.",
            "Cela arrive quand un champ manque dans l'entrée.",
            "Validez d'abord l'entrée pour rendre la fonction robuste.",
        ],
        "code_after": [
            "Ajoutez un test avec une entrée vide pour éviter une régression.",
            "Le cas normal reste inchangé et les erreurs sont gérées proprement.",
        ],
        "classify": [
            "Catégorie : {label}\nRaison : le message mentionne « {kw} ».",
            "Étiquette : {label}\nRaison : le client parle de « {kw} ».",
        ],
        "email": [
            "Objet : Votre demande concernant {topic}\n\nBonjour {name},",
            "Objet : Suivi de {topic}\n\nChère cliente, cher client {name},",
        ],
        "signoff": ["Cordialement,\nLe support Acme", "Bien à vous,\nL'équipe Acme"],
        "translate": [
            "Bonjour, c'est {name}.",
            "J'ai une question sur {topic}.",
            "Il s'agit de la commande {order}.",
            "Pourriez-vous m'aider ?",
        ],
        "thanks": ["Merci d'avance."],
        "fence": ["Bien sûr ! Voici le JSON demandé :"],
        "refusal": [
            "Je suis désolé, mais je ne peux pas vous aider pour des questions "
            "médicales. Veuillez consulter un professionnel de santé."
        ],
    },
    "es": {
        "open": [
            "Gracias por escribirnos sobre «{ref}».",
            "Con gusto te ayudo con {topic}.",
            "Gracias por tu mensaje sobre {topic}.",
        ],
        "order": [
            "He revisado el pedido {order} en nuestro sistema.",
            "Veo el pedido {order} en nuestro sistema.",
        ],
        "body": [
            "Lo más rápido es abrir Ajustes, elegir la sección correspondiente y seguir los pasos.",
            "Si el problema continúa, responde con una captura de pantalla y lo escalaremos "
            "en un día hábil.",
            "Puedes consultar el estado en cualquier momento desde tu cuenta.",
            "He añadido una nota a tu caso.",
        ],
        "close": ["Dime si puedo ayudarte en algo más.", "¡Que tengas un buen día!"],
        "summary": [
            "Resumen: {s1}. El cliente también indica que {s2}.",
            "El mensaje trata sobre {topic}: {s1}. Punto clave: {s2}.",
            "En resumen, {s1}. Además, {s2}.",
        ],
        "code_intro": [
            "El problema en «{ref}» es que el código supone que el valor siempre existe.",
            "Esto ocurre cuando falta un campo en la entrada.",
            "Valida primero la entrada para que la función sea robusta.",
        ],
        "code_after": [
            "Añade una prueba con entrada vacía para que no vuelva a pasar.",
            "El caso normal no cambia y los errores se manejan bien.",
        ],
        "classify": [
            "Categoría: {label}\nMotivo: el mensaje menciona «{kw}».",
            "Etiqueta: {label}\nMotivo: el cliente habla de «{kw}».",
        ],
        "email": [
            "Asunto: Tu consulta sobre {topic}\n\nHola, {name}:",
            "Asunto: Novedades sobre {topic}\n\nEstimado/a {name}:",
        ],
        "signoff": ["Un saludo,\nSoporte de Acme", "Atentamente,\nEl equipo de Acme"],
        "translate": [
            "Hola, soy {name}.",
            "Tengo una pregunta sobre {topic}.",
            "Se trata del pedido {order}.",
            "¿Podrían ayudarme, por favor?",
        ],
        "thanks": ["Gracias de antemano."],
        "fence": ["¡Claro! Aquí tienes el JSON que pediste:"],
        "refusal": [
            "Lo siento, pero no puedo ayudar con preguntas médicas. "
            "Consulta a un profesional de la salud."
        ],
    },
    "pt": {
        "open": [
            "Obrigado por entrar em contato sobre “{ref}”.",
            "Fico feliz em ajudar com {topic}.",
            "Obrigado pela sua mensagem sobre {topic}.",
        ],
        "order": [
            "Verifiquei o pedido {order} no nosso sistema.",
            "Estou vendo o pedido {order} aqui.",
        ],
        "body": [
            "O caminho mais rápido é abrir Configurações, escolher a seção certa e seguir "
            "os passos.",
            "Se o problema continuar, responda com uma captura de tela e vamos encaminhar "
            "em até um dia útil.",
            "Você pode acompanhar o status a qualquer momento na sua conta.",
            "Adicionei uma observação ao seu atendimento.",
        ],
        "close": ["Se precisar de mais alguma coisa, é só avisar.", "Tenha um ótimo dia!"],
        "summary": [
            "Resumo: {s1}. O cliente também diz que {s2}.",
            "A mensagem é sobre {topic}: {s1}. Ponto principal: {s2}.",
            "Em resumo, {s1}. Além disso, {s2}.",
        ],
        "code_intro": [
            "O problema em “{ref}” é que o código supõe que o valor sempre existe.",
            "Isso acontece quando falta um campo na entrada.",
            "Valide a entrada primeiro para deixar a função robusta.",
        ],
        "code_after": [
            "Adicione um teste com entrada vazia para garantir a correção.",
            "O caso normal continua igual e os erros são tratados.",
        ],
        "classify": [
            "Categoria: {label}\nMotivo: a mensagem menciona “{kw}”.",
            "Rótulo: {label}\nMotivo: o cliente fala sobre “{kw}”.",
        ],
        "email": [
            "Assunto: Sua solicitação sobre {topic}\n\nOlá, {name},",
            "Assunto: Atualização sobre {topic}\n\nPrezado(a) {name},",
        ],
        "signoff": ["Atenciosamente,\nSuporte Acme", "Abraços,\nEquipe Acme"],
        "translate": [
            "Olá, aqui é {name}.",
            "Tenho uma dúvida sobre {topic}.",
            "É sobre o pedido {order}.",
            "Vocês podem me ajudar?",
        ],
        "thanks": ["Desde já, obrigado."],
        "fence": ["Claro! Aqui está o JSON que você pediu:"],
        "refusal": [
            "Sinto muito, mas não posso ajudar com questões médicas. "
            "Procure um profissional de saúde."
        ],
    },
    "it": {
        "open": [
            "Grazie per averci scritto riguardo a «{ref}».",
            "Sono felice di aiutarti con {topic}.",
            "Grazie per il tuo messaggio: ti aiuto volentieri con {topic}.",
        ],
        "order": [
            "Ho controllato l'ordine {order} nel nostro sistema.",
            "Vedo l'ordine {order} nel nostro sistema.",
        ],
        "body": [
            "Il modo più rapido è aprire Impostazioni, scegliere la sezione giusta e "
            "seguire i passaggi.",
            "Se il problema persiste, rispondi con uno screenshot e lo inoltreremo entro "
            "un giorno lavorativo.",
            "Puoi controllare lo stato in qualsiasi momento dal tuo account.",
            "Ho aggiunto una nota alla tua pratica.",
        ],
        "close": ["Fammi sapere se posso fare altro.", "Buona giornata!"],
        "summary": [
            "Riepilogo: {s1}. Il cliente aggiunge che {s2}.",
            "Il messaggio riguarda {topic}: {s1}. Punto chiave: {s2}.",
            "In breve, {s1}. Inoltre, {s2}.",
        ],
        "code_intro": [
            "Il problema in «{ref}» è che il codice presume che il valore esista sempre.",
            "Succede quando manca un campo nell'input.",
            "Valida prima l'input per rendere la funzione robusta.",
        ],
        "code_after": [
            "Aggiungi un test con input vuoto per evitare regressioni.",
            "Il caso normale resta uguale e gli errori sono gestiti.",
        ],
        "classify": [
            "Categoria: {label}\nMotivo: il messaggio menziona «{kw}».",
            "Etichetta: {label}\nMotivo: il cliente parla di «{kw}».",
        ],
        "email": [
            "Oggetto: Risposta – {topic}\n\nGentile {name},",
            "Oggetto: Aggiornamento – {topic}\n\nCiao {name},",
        ],
        "signoff": ["Cordiali saluti,\nSupporto Acme", "A presto,\nIl team Acme"],
        "translate": [
            "Ciao, sono {name}.",
            "Ho una domanda che riguarda {topic}.",
            "Riguarda l'ordine {order}.",
            "Potete aiutarmi, per favore?",
        ],
        "thanks": ["Grazie in anticipo."],
        "fence": ["Certo! Ecco il JSON che hai chiesto:"],
        "refusal": [
            "Mi dispiace, ma non posso aiutarti con domande mediche. "
            "Rivolgiti a un professionista sanitario."
        ],
    },
    "ja": {
        "open": [
            "「{ref}」についてお問い合わせいただきありがとうございます。",
            "{topic}についてのご質問ですね。喜んでお手伝いします。",
            "{topic}に関するご連絡ありがとうございます。",
        ],
        "order": [
            "ご注文{order}の状況を確認しました。",
            "ご注文{order}を当社のシステムで確認できました。",
        ],
        "body": [
            "設定画面で該当する項目を選び、"
            "表示される手順に沿って操作すると解決することが多いです。",
            "問題が続く場合は、スクリーンショットを添えてご返信ください。"
            "1営業日以内に担当チームが対応します。",
            "状況はマイページからいつでもご確認いただけます。",
            "お客様のケースにメモを追加しましたので、再度ご説明いただく必要はありません。",
        ],
        "close": ["他にご不明な点があればお気軽にお知らせください。", "よろしくお願いいたします。"],
        "summary": [
            "要約：{s1}。また、{s2}とのことです。",
            "{topic}に関する内容です。{s1}。要点は、{s2}という点です。",
            "まとめると、{s1}。さらに、{s2}。",
        ],
        "code_intro": [
            "「{ref}」の問題は、値が常に存在するとコードが想定していることです。",
            "入力に項目が欠けているときによく起こります。",
            "最初に入力を検証すると関数が安定します。",
        ],
        "code_after": [
            "空の入力でのテストを追加して再発を防ぎましょう。",
            "通常の処理はそのままで、エラーも安全に扱えます。",
        ],
        "classify": [
            "ラベル：{label}\n理由：メッセージに「{kw}」という記述があるためです。",
            "分類：{label}\n理由：お客様が「{kw}」について問い合わせているためです。",
        ],
        "email": ["件名：{topic}についてのご連絡\n\n{name}様", "件名：{topic}の件\n\n{name}様"],
        "signoff": [
            "よろしくお願いいたします。\nAcmeサポート",
            "今後ともよろしくお願いいたします。\nAcmeチーム",
        ],
        "translate": [
            "{name}と申します。",
            "{topic}について質問があります。",
            "ご注文{order}の件です。",
            "ご対応をお願いできますか。",
        ],
        "thanks": ["よろしくお願いいたします。"],
        "fence": ["もちろんです！ご依頼のJSONはこちらです："],
        "refusal": [
            "申し訳ありませんが、医療に関するご質問にはお答えできません。"
            "医療の専門家にご相談ください。"
        ],
        "terse": ["確認します。", "承知しました。", "対応済みです。", "問題ありません。"],
    },
}

TOPIC_NOUNS: dict[str, dict[str, str]] = {
    "en": {
        "billing": "your bill",
        "account": "your account",
        "shipping": "your delivery",
        "product": "the product",
        "medical": "your pharmacy order",
        "returns": "your return",
        "legal": "your legal request",
        "security": "your account security",
        "general": "your request",
    },
    "de": {
        "billing": "Ihrer Rechnung",
        "account": "Ihrem Konto",
        "shipping": "Ihrer Lieferung",
        "product": "dem Produkt",
        "medical": "Ihrer Apothekenbestellung",
        "legal": "Ihrer rechtlichen Anfrage",
        "security": "der Sicherheit Ihres Kontos",
        "returns": "Ihrer Rücksendung",
        "general": "Ihrem Anliegen",
    },
    "fr": {
        "billing": "votre facture",
        "account": "votre compte",
        "shipping": "votre livraison",
        "product": "votre produit",
        "medical": "votre commande en pharmacie",
        "legal": "votre demande juridique",
        "security": "la sécurité de votre compte",
        "returns": "votre retour",
        "general": "votre demande",
    },
    "es": {
        "billing": "tu factura",
        "account": "tu cuenta",
        "shipping": "tu envío",
        "product": "el producto",
        "medical": "tu pedido de farmacia",
        "legal": "tu consulta legal",
        "security": "la seguridad de tu cuenta",
        "returns": "tu devolución",
        "general": "tu consulta",
    },
    "pt": {
        "billing": "sua fatura",
        "account": "sua conta",
        "shipping": "sua entrega",
        "product": "o produto",
        "medical": "seu pedido de farmácia",
        "legal": "sua solicitação jurídica",
        "security": "a segurança da sua conta",
        "returns": "sua devolução",
        "general": "sua solicitação",
    },
    "it": {
        "billing": "la tua fattura",
        "account": "il tuo account",
        "shipping": "la tua consegna",
        "product": "il prodotto",
        "medical": "il tuo ordine in farmacia",
        "legal": "la tua richiesta legale",
        "security": "la sicurezza del tuo account",
        "returns": "il tuo reso",
        "general": "la tua richiesta",
    },
    "ja": {
        "billing": "ご請求",
        "account": "アカウント",
        "shipping": "配送",
        "product": "商品",
        "medical": "薬局でのご注文",
        "legal": "法務に関するご依頼",
        "returns": "返品",
        "security": "アカウントの安全",
        "general": "お問い合わせ",
    },
}

CODE_SNIPPETS: dict[str, list[str]] = {
    "python": [
        "def get_amount(record: dict) -> float:\n"
        '    value = record.get("amount")\n'
        "    if value is None:\n"
        '        raise ValueError("record has no amount")\n'
        "    return float(value)",
        "def total(items: list[dict]) -> float:\n"
        '    return sum(float(item.get("price", 0)) * int(item.get("qty", 1)) '
        "for item in items)",
    ],
    "sql": [
        "SELECT customer_id, COUNT(*) AS tickets\nFROM tickets\n"
        "WHERE created_at >= CURRENT_DATE - INTERVAL 30 DAY\nGROUP BY customer_id\n"
        "ORDER BY tickets DESC;",
        "SELECT o.order_id, o.status\nFROM orders AS o\n"
        "LEFT JOIN refunds AS r ON r.order_id = o.order_id\nWHERE r.order_id IS NULL;",
    ],
    "javascript": [
        "function getAmount(record) {\n  const value = record?.amount;\n"
        '  if (value == null) throw new Error("record has no amount");\n'
        "  return Number(value);\n}",
        "const total = (items) =>\n"
        "  items.reduce((sum, item) => sum + (item.price ?? 0) * (item.qty ?? 1), 0);",
    ],
}
