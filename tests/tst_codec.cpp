// The JSON codec: what a client's text frame decodes to, and which contract
// error each kind of bad frame gets.

#include "codec.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QTest>

using namespace sb;

class TstCodec : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void decodeErrors_data();
    void decodeErrors();
    void decodesEveryClientType_data();
    void decodesEveryClientType();
    void fieldRules_data();
    void fieldRules();
    void answersCarryRef();
    void encodesWithPreEncodedField();
};

void TstCodec::decodeErrors_data()
{
    QTest::addColumn<QByteArray>("frame");
    QTest::addColumn<QString>("code");
    QTest::addColumn<QString>("ref");
    QTest::addRow("not json") << QByteArray("hello") << "bad_json" << "";
    QTest::addRow("truncated") << QByteArray(R"({"type":"join")") << "bad_json" << "";
    QTest::addRow("array") << QByteArray(R"([1,2])") << "bad_json" << "";
    QTest::addRow("number") << QByteArray("42") << "bad_json" << "";
    QTest::addRow("string") << QByteArray(R"("join")") << "bad_json" << "";
    QTest::addRow("no type") << QByteArray(R"({"room":"a","ref":"x1"})") << "bad_request" << "x1";
    QTest::addRow("type number") << QByteArray(R"({"type":5})") << "bad_request" << "";
    QTest::addRow("type null") << QByteArray(R"({"type":null,"ref":"r"})") << "bad_request" << "r";
    QTest::addRow("unknown") << QByteArray(R"({"type":"dance","ref":"r2"})") << "unknown_type" << "r2";
    QTest::addRow("server type") << QByteArray(R"({"type":"welcome"})") << "unknown_type" << "";
    QTest::addRow("ref not string") << QByteArray(R"({"type":"ping","ref":7})") << "bad_request" << "";
    QTest::addRow("ref too long") << QByteArray(R"({"type":"ping","ref":")" + QByteArray(65, 'r') + R"("})")
                                  << "bad_request" << "";
}

void TstCodec::decodeErrors()
{
    QFETCH(QByteArray, frame);
    QFETCH(QString, code);
    QFETCH(QString, ref);
    const DecodeResult r = decodeRequest(frame);
    QVERIFY(!r.ok());
    QCOMPARE(QString(name(r.error.code)), code);
    QCOMPARE(r.ref, ref);
    QVERIFY(!r.error.message.isEmpty());
    if (code != QLatin1StringView("unknown_type"))
        QCOMPARE(r.typeName, QStringLiteral("invalid"));
}

void TstCodec::decodesEveryClientType_data()
{
    QTest::addColumn<QString>("type");
    for (const MessageTypeInfo &entry : messageTypes) {
        if (entry.direction == Direction::ToServer)
            QTest::addRow("%s", entry.name.data()) << QString(entry.name);
    }
}

void TstCodec::decodesEveryClientType()
{
    QFETCH(QString, type);
    const DecodeResult r = decodeRequest(encode({{QStringLiteral("type"), type}, {QStringLiteral("ref"), QStringLiteral("abc")}}));
    QVERIFY(r.ok());
    QCOMPARE(QString(name(r.request->type)), type);
    QCOMPARE(r.request->ref, QStringLiteral("abc"));
    QCOMPARE(r.typeName, type);
}

void TstCodec::fieldRules_data()
{
    QTest::addColumn<QByteArray>("frame");
    QTest::addColumn<QString>("code"); // empty: accepted
    QTest::addRow("room ok") << QByteArray(R"({"room":"lobby","text":"hi"})") << "";
    QTest::addRow("room missing") << QByteArray(R"({"text":"hi"})") << "bad_request";
    QTest::addRow("room number") << QByteArray(R"({"room":5,"text":"hi"})") << "invalid_room";
    QTest::addRow("room pattern") << QByteArray(R"({"room":"No!","text":"hi"})") << "invalid_room";
    QTest::addRow("text missing") << QByteArray(R"({"room":"a"})") << "bad_request";
    QTest::addRow("text empty") << QByteArray(R"({"room":"a","text":""})") << "bad_request";
    QTest::addRow("text number") << QByteArray(R"({"room":"a","text":1})") << "bad_request";
    QTest::addRow("text 4000") << QByteArray(R"({"room":"a","text":")" + QByteArray(4000, 'x') + R"("})") << "";
    QTest::addRow("text 4001") << QByteArray(R"({"room":"a","text":")" + QByteArray(4001, 'x') + R"("})") << "too_large";
}

void TstCodec::fieldRules()
{
    QFETCH(QByteArray, frame);
    QFETCH(QString, code);
    const QJsonObject o = *decodeObject(frame);
    QString room;
    QString text;
    std::optional<ProtocolError> e = fields::room(o, &room);
    if (!e)
        e = fields::text(o, QLatin1StringView("text"), Limits::MaxChatText, &text);
    if (code.isEmpty())
        QVERIFY2(!e, e ? qPrintable(e->message) : "");
    else
        QCOMPARE(e ? QString(name(e->code)) : QStringLiteral("accepted"), code);
}

void TstCodec::answersCarryRef()
{
    const QJsonObject ack = makeAck(QStringLiteral("r1"), {{QStringLiteral("seq"), 3}});
    QCOMPARE(ack.value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
    QCOMPARE(ack.value(QStringLiteral("ref")).toString(), QStringLiteral("r1"));
    QCOMPARE(ack.value(QStringLiteral("seq")).toInt(), 3);
    const QJsonObject error = makeError({}, ErrorCode::NotMember, QStringLiteral("join first"));
    QCOMPARE(error.value(QStringLiteral("code")).toString(), QStringLiteral("not_member"));
    QVERIFY(!error.contains(QStringLiteral("ref")));
    QCOMPARE(*decodeObject(encode(error)), error);
}

void TstCodec::encodesWithPreEncodedField()
{
    const QJsonArray members{QJsonObject{{QStringLiteral("session_id"), QStringLiteral("s\"1")}}};
    const QByteArray json = QJsonDocument(members).toJson(QJsonDocument::Compact);
    const QJsonObject ack = makeAck(QStringLiteral("r1"), {{QStringLiteral("member_count"), 1}});
    QJsonObject expected = ack;
    expected.insert(QStringLiteral("members"), members);
    QCOMPARE(*decodeObject(encodeWith(ack, QLatin1StringView("members"), json)), expected);
    // An empty frame gets no leading comma.
    QCOMPARE(encodeWith({}, QLatin1StringView("members"), "[]"), QByteArray(R"({"members":[]})"));
}

QTEST_GUILESS_MAIN(TstCodec)
#include "tst_codec.moc"
