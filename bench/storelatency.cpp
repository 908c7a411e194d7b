// sb-store-latency: how long an acknowledged chat write waits while the same
// store serves big reads and runs a cleanup (docs/benchmarks.md, "Store
// latency"). It drives the real Store (embedded SQLite or PostgreSQL) through
// its public interface: appendChat() at a steady rate to one room, while
// history()/messagesSince() read thousands of rows of a large room and one
// cleanup() trims a large table. Prints p50/p99/max of the append latency
// (call to callback) per phase.
//
// With --writers N it opens N stores on the same database, as N instances
// do, and spreads the appends over them round robin: on PostgreSQL their
// batches then take turns on the room's row lock, which is what a chat
// room written from two instances costs. --nonce gives every chat a nonce,
// as the participant client sends.
//
//   sb-store-latency [--database-url URL] [--data DIR] [--rows 200000]
//                    [--rate 200] [--seconds 6] [--writers N] [--nonce]

#include "store/storefactory.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDateTime>
#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QTimer>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <vector>

using namespace sb;

namespace {

struct Samples
{
    std::vector<double> ms;

    void print(const char *phase) const
    {
        if (ms.empty()) {
            std::printf("%-26s no samples\n", phase);
            return;
        }
        std::vector<double> sorted = ms;
        std::sort(sorted.begin(), sorted.end());
        auto at = [&sorted](double q) { return sorted[std::min(sorted.size() - 1, size_t(q * double(sorted.size())))]; };
        std::printf("%-26s n=%-6zu p50=%7.2f ms  p99=%7.2f ms  max=%7.2f ms\n", phase, sorted.size(), at(0.5),
                    at(0.99), sorted.back());
    }
};

// Fills the big rooms directly (one transaction), far faster than appendChat.
bool prefill(const Config &config, int rows, int rooms, qint64 ts)
{
    const std::unique_ptr<SqlConnection> db = makeSqlConnection(config);
    QString error;
    if (!db->open(&error)) {
        std::fprintf(stderr, "prefill: %s\n", qPrintable(error));
        return false;
    }
    try {
        SqlTransaction transaction(*db);
        const QString text(200, QLatin1Char('x'));
        const int perRoom = rows / rooms;
        for (int r = 0; r < rooms; ++r) {
            const QString room = QStringLiteral("big-%1").arg(r);
            db->exec(QStringLiteral("WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < $2)"
                                    " INSERT INTO messages (room, seq, from_user, client_id, text, ts, origin)"
                                    " SELECT CAST($1 AS TEXT), n, 'bench', 'bench', CAST($3 AS TEXT), $4, 'bench'"
                                    " FROM s"),
                     {room, perRoom, text, ts});
            db->exec(QStringLiteral("INSERT INTO rooms (name, last_seq) VALUES ($1, $2)"), {room, perRoom});
        }
        transaction.commit();
    } catch (const SqlError &e) {
        std::fprintf(stderr, "prefill: %s\n", qPrintable(e.message()));
        return false;
    }
    return true;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.addHelpOption();
    const QCommandLineOption urlOption(QStringLiteral("database-url"), QStringLiteral("PostgreSQL URL (default: embedded)"),
                                       QStringLiteral("url"));
    const QCommandLineOption dataOption(QStringLiteral("data"), QStringLiteral("embedded store directory (default: temporary)"),
                                        QStringLiteral("dir"));
    const QCommandLineOption rowsOption(QStringLiteral("rows"), QStringLiteral("messages prefilled"), QStringLiteral("n"),
                                        QStringLiteral("200000"));
    const QCommandLineOption rateOption(QStringLiteral("rate"), QStringLiteral("appends per second"), QStringLiteral("n"),
                                        QStringLiteral("200"));
    const QCommandLineOption secondsOption(QStringLiteral("seconds"), QStringLiteral("seconds per phase"),
                                           QStringLiteral("n"), QStringLiteral("5"));
    const QCommandLineOption writersOption(QStringLiteral("writers"),
                                           QStringLiteral("stores appending to the hot room, as that many instances"),
                                           QStringLiteral("n"), QStringLiteral("1"));
    const QCommandLineOption nonceOption(QStringLiteral("nonce"), QStringLiteral("send every chat with a nonce"));
    const QCommandLineOption appendsOnlyOption(QStringLiteral("appends-only"),
                                               QStringLiteral("only the first phase (appends alone), no prefill"));
    parser.addOptions({urlOption, dataOption, rowsOption, rateOption, secondsOption, writersOption, nonceOption,
                       appendsOnlyOption});
    parser.process(app);

    QTemporaryDir tmp;
    Config config;
    config.databaseUrl = parser.value(urlOption);
    config.dataDir = parser.isSet(dataOption) ? parser.value(dataOption) : tmp.path();
    const bool appendsOnly = parser.isSet(appendsOnlyOption);
    const int rows = appendsOnly ? 0 : parser.value(rowsOption).toInt();
    const int rate = std::max(1, parser.value(rateOption).toInt());
    const int phaseMs = 1000 * std::max(1, parser.value(secondsOption).toInt());
    const int writers = std::max(1, parser.value(writersOption).toInt());
    const bool withNonce = parser.isSet(nonceOption);
    constexpr int kBigRooms = 4;
    constexpr int kKeepPerRoom = 1000;

    std::vector<std::unique_ptr<Store>> stores;
    for (int i = 0; i < writers; ++i) {
        stores.push_back(makeStore(config));
        stores.back()->start();
    }
    Store *store = stores.front().get();
    QElapsedTimer wait;
    wait.start();
    auto allUp = [&stores] {
        return std::all_of(stores.begin(), stores.end(), [](const auto &s) { return s->isUp(); });
    };
    while (!allUp() && wait.elapsed() < 20000)
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 100);
    if (!allUp()) {
        std::fprintf(stderr, "store did not come up\n");
        return 1;
    }
    const qint64 oldTs = QDateTime::currentMSecsSinceEpoch() - 3600 * 1000;
    QElapsedTimer timer;
    timer.start();
    if (rows > 0 && !prefill(config, rows, kBigRooms, oldTs))
        return 1;
    std::printf("store %s, %d messages prefilled in %d rooms (%.1f s); %d appends/s from %d writer(s)%s, %d s per phase\n",
                qPrintable(store->kind()), rows, kBigRooms, double(timer.elapsed()) / 1000.0, rate, writers,
                withNonce ? " with nonces" : "", phaseMs / 1000);

    enum class Phase { Idle, Reads, Cleanup, Done };
    Phase phase = Phase::Idle;
    Samples idle, reads, cleaning;
    int outstanding = 0;
    int failures = 0;
    qint64 seq = 0;
    int readsDone = 0;
    qint64 rowsRead = 0;
    double cleanupMs = -1;
    QElapsedTimer clock;
    clock.start();
    // Unique across runs on one database: a nonce seen before is a resend.
    const QString nonceBase = QString::number(QDateTime::currentMSecsSinceEpoch()) + QLatin1Char('-');

    // Every 2 ms, the appends that are due by then: the rate holds above
    // 500/s too, where a timer per append would be late.
    QTimer appender;
    appender.setTimerType(Qt::PreciseTimer);
    appender.setInterval(2);
    QObject::connect(&appender, &QTimer::timeout, &app, [&] {
        const qint64 now = clock.nsecsElapsed();
        Samples *into = phase == Phase::Idle ? &idle : phase == Phase::Reads ? &reads : &cleaning;
        for (; seq < now * rate / 1000000000; ) {
            ++outstanding;
            ++seq;
            Store *writer = stores[size_t(seq % writers)].get();
            const QString clientId = QStringLiteral("bench-%1").arg(seq % 10);
            writer->appendChat({QStringLiteral("hot"), QStringLiteral("bench"), clientId,
                                QStringLiteral("message %1").arg(seq), withNonce ? nonceBase + QString::number(seq) : QString(),
                                QDateTime::currentMSecsSinceEpoch(), QStringLiteral("bench")},
                               [&, now, into](StoreResult<AppendResult> r) {
                                   --outstanding;
                                   if (!r.ok)
                                       ++failures;
                                   into->ms.push_back(double(clock.nsecsElapsed() - now) / 1e6);
                               });
        }
    });

    // Two big reads in flight at all times while reading: the newest 5000 of a
    // big room and everything of another.
    bool reading = false;
    std::function<void(int)> readLoop = [&](int k) {
        if (!reading)
            return;
        const QString room = QStringLiteral("big-%1").arg(k % kBigRooms);
        if (k % 2 == 0) {
            store->history(room, 0, 5000, [&, k](StoreResult<QList<ChatMessage>> r) {
                ++readsDone;
                rowsRead += r.value.size();
                readLoop(k + 2);
            });
        } else {
            store->messagesSince(room, 0, 100000, [&, k](StoreResult<RangeResult> r) {
                ++readsDone;
                rowsRead += r.value.messages.size();
                readLoop(k + 2);
            });
        }
    };

    appender.start();
    if (appendsOnly) {
        cleanupMs = 0;
        QTimer::singleShot(phaseMs, &app, [&] {
            phase = Phase::Done;
            appender.stop();
        });
    } else {
        QTimer::singleShot(phaseMs, &app, [&] {
            phase = Phase::Reads;
            reading = true;
            readLoop(0);
            readLoop(1);
        });
        QTimer::singleShot(2 * phaseMs, &app, [&] {
            reading = false;
            phase = Phase::Cleanup;
            QElapsedTimer *cleanupTimer = new QElapsedTimer;
            cleanupTimer->start();
            store->cleanup(QDateTime::currentMSecsSinceEpoch(), 7LL * 24 * 3600 * 1000, kKeepPerRoom,
                           [&, cleanupTimer](StoreResult<CleanupStats> r) {
                               cleanupMs = double(cleanupTimer->elapsed());
                               delete cleanupTimer;
                               if (!r.ok)
                                   std::fprintf(stderr, "cleanup failed: %s\n", qPrintable(r.error));
                               else
                                   std::printf("cleanup removed %d messages in %.0f ms\n", r.value.messages, cleanupMs);
                           });
        });
        QTimer::singleShot(3 * phaseMs, &app, [&] {
            phase = Phase::Done;
            appender.stop();
        });
    }
    QTimer finish;
    finish.setInterval(50);
    QObject::connect(&finish, &QTimer::timeout, &app, [&] {
        if (phase == Phase::Done && outstanding == 0 && cleanupMs >= 0)
            app.quit();
    });
    finish.start();
    app.exec();

    idle.print("appends alone");
    if (!appendsOnly) {
        reads.print("appends + big reads");
        cleaning.print("appends + cleanup");
    }
    std::printf("reads: %d (%lld rows); failed appends: %d\n", readsDone, static_cast<long long>(rowsRead), failures);
    return failures == 0 ? 0 : 1;
}
