// The reconnect delays of the console's clients: about 1, 2, 4, 8, 16 s and
// then capped, each with jitter so that clients dropped together (a drain, a
// dead instance) do not come back in step; and the participant client really
// uses those limits.

#include "services/backoff.h"
#include "services/participantclient.h"

#include <QSet>
#include <QTest>

#include <algorithm>
#include <numeric>

using namespace sb::console;

class TestBackoff final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void participantDefaultsAreOneToSixteenSeconds()
    {
        const ParticipantClient::Options defaults;
        QCOMPARE(defaults.backoffFirstMs, 1000);
        QCOMPARE(defaults.backoffCapMs, 16000);
    }

    void delayDoublesUpToTheCap_data()
    {
        QTest::addColumn<int>("attempt");
        QTest::addColumn<int>("baseMs");
        const QList<int> bases{1000, 2000, 4000, 8000, 16000, 16000, 16000, 16000};
        for (int i = 0; i < bases.size(); ++i)
            QTest::addRow("attempt %d", i + 1) << i << bases.at(i);
        QTest::addRow("attempt 64") << 63 << 16000;
    }

    void delayDoublesUpToTheCap()
    {
        QFETCH(int, attempt);
        QFETCH(int, baseMs);
        // Many clients at the same attempt: each within +/-20 % of the base,
        // never above the cap.
        for (int client = 0; client < 200; ++client) {
            Backoff backoff(1000, 16000);
            for (int i = 0; i < attempt; ++i)
                backoff.next();
            const int delay = backoff.next();
            const QString what = QStringLiteral("%1 ms at attempt %2 (base %3)").arg(delay).arg(attempt + 1).arg(baseMs);
            QVERIFY2(delay >= baseMs * 0.8 - 1 && delay <= qMin(16000.0, baseMs * 1.2 + 1), qPrintable(what));
        }
        Backoff counted(1000, 16000);
        for (int i = 0; i <= attempt; ++i)
            counted.next();
        QCOMPARE(counted.attempts(), attempt + 1);
    }

    void jitterSpreadsClientsDroppedTogether()
    {
        // A thousand clients dropped at once must not all retry at the same moment.
        QList<int> first;
        QList<int> third;
        for (int client = 0; client < 1000; ++client) {
            Backoff backoff(1000, 16000);
            first.append(backoff.next());
            backoff.next();
            third.append(backoff.next());
        }
        const auto [minFirst, maxFirst] = std::minmax_element(first.cbegin(), first.cend());
        QVERIFY2(*minFirst < 900 && *maxFirst > 1100,
                 qPrintable(QStringLiteral("first delays only %1..%2 ms").arg(*minFirst).arg(*maxFirst)));
        QVERIFY(QSet<int>(first.cbegin(), first.cend()).size() > 100);
        const double meanFirst = std::accumulate(first.cbegin(), first.cend(), 0.0) / first.size();
        QVERIFY2(qAbs(meanFirst - 1000) < 50, qPrintable(QString::number(meanFirst)));
        const double meanThird = std::accumulate(third.cbegin(), third.cend(), 0.0) / third.size();
        QVERIFY2(qAbs(meanThird - 4000) < 200, qPrintable(QString::number(meanThird)));
    }

    void resetStartsAgainFromTheFirstDelay()
    {
        Backoff backoff(1000, 16000);
        for (int i = 0; i < 6; ++i)
            backoff.next();
        QVERIFY(backoff.next() >= 12800);
        backoff.reset();
        QCOMPARE(backoff.attempts(), 0);
        const int delay = backoff.next();
        QVERIFY2(delay >= 800 && delay <= 1200, qPrintable(QString::number(delay)));
    }

    void limitsCanBeChanged()
    {
        Backoff backoff;
        backoff.setLimits(100, 400);
        QList<int> delays;
        for (int i = 0; i < 5; ++i)
            delays.append(backoff.next());
        QVERIFY2(delays.at(0) >= 80 && delays.at(0) <= 120, qPrintable(QString::number(delays.at(0))));
        QVERIFY2(delays.at(2) >= 320 && delays.at(2) <= 400, qPrintable(QString::number(delays.at(2))));
        QVERIFY(delays.at(4) <= 400);
    }
};

QTEST_GUILESS_MAIN(TestBackoff)
#include "tst_backoff.moc"
