#include "operatorkeystore.h"

#include <QLoggingCategory>
#include <QTimer>

#ifdef SB_HAVE_KEYCHAIN
#include <qt6keychain/keychain.h>
#endif

Q_LOGGING_CATEGORY(lcKeychain, "sb.console.keychain", QtInfoMsg)

namespace sb::console {

OperatorKeyStore::OperatorKeyStore(QObject *parent)
    : QObject(parent)
{
}

bool OperatorKeyStore::compiledIn()
{
#ifdef SB_HAVE_KEYCHAIN
    return true;
#else
    return false;
#endif
}

QString OperatorKeyStore::service()
{
    return QStringLiteral("switchboard-console");
}

QString OperatorKeyStore::account()
{
    return QStringLiteral("operator-key");
}

void OperatorKeyStore::read(std::function<void(const QString &, const QString &)> done)
{
#ifdef SB_HAVE_KEYCHAIN
    auto *job = new QKeychain::ReadPasswordJob(service(), this);
    job->setAutoDelete(true);
    job->setInsecureFallback(false);
    job->setKey(account());
    connect(job, &QKeychain::Job::finished, this, [done = std::move(done)](QKeychain::Job *finished) {
        auto *readJob = static_cast<QKeychain::ReadPasswordJob *>(finished);
        if (readJob->error() == QKeychain::NoError) {
            done(readJob->textData(), {});
            return;
        }
        if (readJob->error() != QKeychain::EntryNotFound)
            qCInfo(lcKeychain).noquote() << "keychain not available:" << readJob->errorString();
        done({}, readJob->error() == QKeychain::EntryNotFound ? QString() : readJob->errorString());
    });
    job->start();
#else
    QTimer::singleShot(0, this, [done = std::move(done)] { done({}, tr("built without QtKeychain")); });
#endif
}

void OperatorKeyStore::write(const QString &key, std::function<void(bool, const QString &)> done)
{
#ifdef SB_HAVE_KEYCHAIN
    auto *job = new QKeychain::WritePasswordJob(service(), this);
    job->setAutoDelete(true);
    job->setInsecureFallback(false);
    job->setKey(account());
    job->setTextData(key);
    connect(job, &QKeychain::Job::finished, this, [done = std::move(done)](QKeychain::Job *finished) {
        const bool ok = finished->error() == QKeychain::NoError;
        if (!ok)
            qCInfo(lcKeychain).noquote() << "the operator key is not remembered:" << finished->errorString();
        if (done)
            done(ok, ok ? QString() : finished->errorString());
    });
    job->start();
#else
    Q_UNUSED(key)
    QTimer::singleShot(0, this, [done = std::move(done)] {
        if (done)
            done(false, tr("built without QtKeychain"));
    });
#endif
}

void OperatorKeyStore::remove(std::function<void(bool, const QString &)> done)
{
#ifdef SB_HAVE_KEYCHAIN
    auto *job = new QKeychain::DeletePasswordJob(service(), this);
    job->setAutoDelete(true);
    job->setInsecureFallback(false);
    job->setKey(account());
    connect(job, &QKeychain::Job::finished, this, [done = std::move(done)](QKeychain::Job *finished) {
        if (done)
            done(finished->error() == QKeychain::NoError, finished->errorString());
    });
    job->start();
#else
    QTimer::singleShot(0, this, [done = std::move(done)] {
        if (done)
            done(false, tr("built without QtKeychain"));
    });
#endif
}

} // namespace sb::console
