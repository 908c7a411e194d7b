#pragma once

// Keeps the operator key in the system keychain (QtKeychain) and nowhere else:
// when no keychain is reachable, or the build has no QtKeychain, reading finds
// nothing and writing reports failure, so the key is simply not remembered.
// Never falls back to plain-text settings. Asynchronous; used at start-up.

#include <QObject>
#include <QString>

#include <functional>

namespace sb::console {

class OperatorKeyStore final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(OperatorKeyStore)
public:
    explicit OperatorKeyStore(QObject *parent = nullptr);

    static bool compiledIn();
    // `done(key, error)`: an empty key when none is stored or the keychain is unavailable.
    void read(std::function<void(const QString &key, const QString &error)> done);
    // `done(ok, error)`.
    void write(const QString &key, std::function<void(bool ok, const QString &error)> done);
    void remove(std::function<void(bool ok, const QString &error)> done);

private:
    static QString service();
    static QString account();
};

} // namespace sb::console
