// switchboard-console: parses the command line, asks what is missing (mode,
// instances, operator key, sign-in), then runs the operator MainWindow or the
// participant ClientWindow. All logic lives in sb_console.

#include "app/launchoptions.h"
#include "app/operatorsession.h"
#include "app/participantsession.h"
#include "services/consolesettings.h"
#include "services/operatorkeystore.h"
#include "ui/clientwindow.h"
#include "ui/mainwindow.h"
#include "ui/startdialog.h"

#include <QApplication>
#include <QScreen>
#include <QEventLoop>
#include <QIcon>
#include <QInputDialog>
#include <QMessageBox>
#include <QTimer>

#include <cstdio>
#include <memory>

using namespace sb::console;

namespace {

// Saves `window` to `path` after `delayMs` and quits (documentation images).
void scheduleScreenshot(QWidget *window, const QString &path, int delayMs)
{
    if (path.isEmpty())
        return;
    QTimer::singleShot(delayMs, window, [window, path] {
        const bool ok = window->grab().save(path);
        std::fprintf(stderr, "%s %s\n", ok ? "saved" : "could not save", qPrintable(path));
        QCoreApplication::exit(ok ? 0 : 1);
    });
}

QString promptKey(QWidget *parent, const QString &why)
{
    bool ok = false;
    const QString key = QInputDialog::getText(parent, QObject::tr("Operator key"), why, QLineEdit::Password, QString(), &ok);
    return ok ? key : QString();
}

// The key from the keychain, waiting at most a few seconds for it.
QString readStoredKey(OperatorKeyStore &store)
{
    QString found;
    QEventLoop loop;
    QTimer::singleShot(5000, &loop, &QEventLoop::quit);
    store.read([&](const QString &key, const QString &) {
        found = key;
        loop.quit();
    });
    loop.exec();
    return found;
}

// The preferred size, or less on a smaller screen (1280x1024 included): the
// window opens whole, and the layouts give way.
void sizeToScreen(QWidget *window, QSize preferred)
{
    if (const QScreen *screen = window->screen())
        preferred = preferred.boundedTo(screen->availableGeometry().size() - QSize(40, 60));
    window->resize(preferred);
}

int runOperator(const LaunchOptions &options)
{
    ConsoleSettings settings;
    QList<QUrl> urls = options.instanceUrls;
    QString redis = options.redisUrl;
    if (urls.isEmpty() && redis.isEmpty()) {
        urls = settings.instanceUrls();
        redis = settings.redisUrl();
    }
    if (urls.isEmpty() && redis.isEmpty()) {
        StartDialog dialog;
        dialog.lockMode(StartDialog::Mode::Operator);
        dialog.setInstanceUrls({});
        if (dialog.exec() != QDialog::Accepted)
            return 0;
        urls = dialog.instanceUrls();
        redis = dialog.redisUrl();
    }
    settings.setInstanceUrls(urls);
    settings.setRedisUrl(redis);

    OperatorKeyStore keyStore;
    QString key = options.operatorKey;
    if (key.isEmpty())
        key = readStoredKey(keyStore);
    if (key.isEmpty()) {
        key = promptKey(nullptr, QObject::tr("The operator key (SB_OPERATOR_KEY of the servers):"));
        if (key.isEmpty())
            return 0;
        keyStore.write(key, {}); // remembered only when a keychain is there
    }

    OperatorSession session;
    session.setOperatorKey(key);
    for (const QUrl &url : std::as_const(urls))
        session.addInstance(url);
    if (const std::optional<sb::RedisUrl> cluster = sb::RedisUrl::parse(redis);
        cluster && cluster->kind != sb::RedisUrl::Kind::Single)
        session.setRedisUrl(*cluster); // Sentinels or a cluster
    else if (const std::optional<sb::RedisAddress> address = sb::RedisAddress::fromUrl(redis); address && !redis.isEmpty())
        session.setRedis(*address);

    MainWindow window(session);
    sizeToScreen(&window, {1500, 950});
    window.restoreLayout();
    QObject::connect(&window, &MainWindow::instancesChanged, &window,
                     [](const QList<QUrl> &current) { ConsoleSettings().setInstanceUrls(current); });
    QObject::connect(&window, &MainWindow::changeKeyRequested, &window, [&window, &session, &keyStore] {
        const QString newKey = promptKey(&window, QObject::tr("A new operator key:"));
        if (newKey.isEmpty())
            return;
        session.setOperatorKey(newKey);
        session.reconnectAll();
        keyStore.write(newKey, {});
    });
    session.start();
    window.show();
    scheduleScreenshot(&window, options.screenshotPath, options.screenshotDelayMs);
    return QApplication::exec();
}

int runClient(const LaunchOptions &options)
{
    ConsoleSettings settings;
    QUrl server = options.serverUrl;
    QString user = options.user;
    if (server.isEmpty() || user.isEmpty()) {
        StartDialog dialog;
        dialog.lockMode(StartDialog::Mode::Client);
        dialog.setServer(server.isEmpty() ? settings.serverUrl() : server, user.isEmpty() ? settings.userName() : user);
        if (dialog.exec() != QDialog::Accepted)
            return 0;
        server = dialog.serverUrl();
        user = dialog.user();
    }

    ParticipantSession session;
    ClientWindow window(session);
    sizeToScreen(&window, {1200, 760});
    window.restoreLayout();
    session.signIn(server, user, options.rooms); // remembers server and user; the client_id from QSettings
    window.show();
    scheduleScreenshot(&window, options.screenshotPath, options.screenshotDelayMs);
    return QApplication::exec();
}

} // namespace

int main(int argc, char *argv[])
{
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("Switchboard"));
    QApplication::setApplicationName(QStringLiteral("switchboard-console"));
    QApplication::setApplicationVersion(QStringLiteral(SB_VERSION));
    // The icon of every window (resources/switchboard.qrc); PNG sizes, so no
    // SVG image plugin is needed. The desktop file name lets Wayland shells
    // match the windows to org.switchboard.Console.desktop (resources/).
    QIcon icon;
    for (int size : {16, 32, 48, 64, 128, 256})
        icon.addFile(QStringLiteral(":/icons/switchboard-console-%1.png").arg(size), QSize(size, size));
    QApplication::setWindowIcon(icon);
    QApplication::setDesktopFileName(QStringLiteral("org.switchboard.Console"));

    LaunchOptions options = LaunchOptions::parse(QApplication::arguments(), qEnvironmentVariable("SB_OPERATOR_KEY"));
    if (!options.error.isEmpty()) {
        std::fprintf(stderr, "%s\n", qPrintable(options.error));
        return options.error.startsWith(QLatin1StringView("Usage")) ? 0 : 2;
    }
    if (options.mode == LaunchOptions::Mode::Ask) {
        ConsoleSettings settings;
        StartDialog dialog;
        dialog.setInstanceUrls(settings.instanceUrls());
        dialog.setRedisUrl(settings.redisUrl());
        dialog.setServer(settings.serverUrl(), settings.userName());
        if (dialog.exec() != QDialog::Accepted)
            return 0;
        if (dialog.mode() == StartDialog::Mode::Client) {
            options.mode = LaunchOptions::Mode::Client;
            options.serverUrl = dialog.serverUrl();
            options.user = dialog.user();
        } else {
            options.mode = LaunchOptions::Mode::Operator;
            options.instanceUrls = dialog.instanceUrls();
            options.redisUrl = dialog.redisUrl();
        }
    }
    return options.mode == LaunchOptions::Mode::Client ? runClient(options) : runOperator(options);
}
