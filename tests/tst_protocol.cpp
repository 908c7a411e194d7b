// The message-type table and the name helpers: every type round-trips, only
// client-bound types are accepted from clients, and the room/user rules match
// the contract's patterns.

#include "protocol.h"

#include <QRegularExpression>
#include <QTest>

using namespace sb;

class TstProtocol : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void everyTypeRoundTrips_data();
    void everyTypeRoundTrips();
    void clientsCannotSendServerTypes();
    void errorCodesRoundTrip_data();
    void errorCodesRoundTrip();
    void roomNames_data();
    void roomNames();
    void userNames_data();
    void userNames();
    void lengthCountsCodePoints();
};

void TstProtocol::everyTypeRoundTrips_data()
{
    QTest::addColumn<int>("index");
    for (const MessageTypeInfo &entry : messageTypes)
        QTest::addRow("%s", entry.name.data()) << static_cast<int>(entry.type);
}

void TstProtocol::everyTypeRoundTrips()
{
    QFETCH(int, index);
    const MessageTypeInfo &entry = messageTypes[static_cast<std::size_t>(index)];
    QCOMPARE(static_cast<int>(entry.type), index);
    const auto back = messageTypeFromName(QString(entry.name), entry.direction);
    QVERIFY(back.has_value());
    QCOMPARE(static_cast<int>(*back), index);
    QCOMPARE(entry.operatorOnly, entry.name.startsWith(QLatin1StringView("admin.")));
}

void TstProtocol::clientsCannotSendServerTypes()
{
    for (const char *serverOnly : {"welcome", "ack", "error", "pong", "presence", "todo.changed", "broadcast",
                                   "reconnect", "admin.stats", "admin.flow", "admin.conn.open"}) {
        QVERIFY2(!messageTypeFromName(QString::fromLatin1(serverOnly), Direction::ToServer), serverOnly);
        QVERIFY2(messageTypeFromName(QString::fromLatin1(serverOnly), Direction::ToClient), serverOnly);
    }
    QVERIFY(!messageTypeFromName(u"Join", Direction::ToServer));
    QVERIFY(!messageTypeFromName(u"", Direction::ToServer));
}

void TstProtocol::errorCodesRoundTrip_data()
{
    QTest::addColumn<QString>("code");
    for (const char *code : {"bad_json", "bad_request", "unknown_type", "invalid_room", "too_large", "rate_limited",
                             "not_member", "not_found", "forbidden", "backplane_unavailable", "store_unavailable",
                             "internal"})
        QTest::addRow("%s", code) << QString::fromLatin1(code);
}

void TstProtocol::errorCodesRoundTrip()
{
    QFETCH(QString, code);
    const auto parsed = errorCodeFromName(code);
    QVERIFY(parsed.has_value());
    QCOMPARE(QString(name(*parsed)), code);
}

void TstProtocol::roomNames_data()
{
    QTest::addColumn<QString>("room");
    QTest::addRow("simple") << QStringLiteral("lobby");
    QTest::addRow("digits first") << QStringLiteral("1st-floor");
    QTest::addRow("underscore") << QStringLiteral("a_b-c");
    QTest::addRow("64 chars") << QString(64, QLatin1Char('a'));
    QTest::addRow("65 chars") << QString(65, QLatin1Char('a'));
    QTest::addRow("empty") << QString();
    QTest::addRow("upper") << QStringLiteral("Lobby");
    QTest::addRow("leading dash") << QStringLiteral("-x");
    QTest::addRow("leading underscore") << QStringLiteral("_x");
    QTest::addRow("space") << QStringLiteral("a b");
    QTest::addRow("unicode") << QStringLiteral("caf\u00e9");
    QTest::addRow("dot") << QStringLiteral("a.b");
}

void TstProtocol::roomNames()
{
    QFETCH(QString, room);
    static const QRegularExpression contract(QStringLiteral("^[a-z0-9][a-z0-9_-]{0,63}$"));
    QCOMPARE(isValidRoom(room), contract.match(room).hasMatch());
}

void TstProtocol::userNames_data()
{
    QTest::addColumn<QString>("user");
    QTest::addColumn<bool>("valid");
    QTest::addRow("alice") << QStringLiteral("alice") << true;
    QTest::addRow("mixed") << QStringLiteral("A.b_c-9") << true;
    QTest::addRow("32") << QString(32, QLatin1Char('x')) << true;
    QTest::addRow("33") << QString(33, QLatin1Char('x')) << false;
    QTest::addRow("empty") << QString() << false;
    QTest::addRow("space") << QStringLiteral("a b") << false;
    QTest::addRow("at") << QStringLiteral("a@b") << false;
}

void TstProtocol::userNames()
{
    QFETCH(QString, user);
    QFETCH(bool, valid);
    QCOMPARE(isValidUser(user), valid);
}

void TstProtocol::lengthCountsCodePoints()
{
    QCOMPARE(codePointLength(u"abc"), 3);
    QCOMPARE(codePointLength(QStringLiteral("\U0001F600\U0001F600")), 2); // two emoji, four UTF-16 units
    QCOMPARE(codePointLength(u""), 0);
}

QTEST_GUILESS_MAIN(TstProtocol)
#include "tst_protocol.moc"
