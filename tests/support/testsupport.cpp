#include "testsupport.h"

#include "codec.h"

#include <QDeadlineTimer>
#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QNetworkRequest>
#include <QProcessEnvironment>
#include <QRandomGenerator>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>
#include <QUrl>

#include <algorithm>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace sbtest {

QJsonObject HttpResult::json() const
{
    return QJsonDocument::fromJson(body).object();
}

namespace {

HttpResult finish(QNetworkReply *reply)
{
    QDeadlineTimer deadline(10000);
    while (!reply->isFinished() && !deadline.hasExpired())
        QTest::qWait(5);
    HttpResult result;
    result.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    result.body = reply->readAll();
    for (const auto &pair : reply->rawHeaderPairs())
        result.headers.insert(pair.first.toLower(), pair.second);
    reply->deleteLater();
    return result;
}

QNetworkAccessManager &nam()
{
    static QNetworkAccessManager manager;
    return manager;
}

QNetworkRequest makeRequest(quint16 port, const QString &path, const QList<QPair<QByteArray, QByteArray>> &headers)
{
    QNetworkRequest request(QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(port).arg(path)));
    request.setAttribute(QNetworkRequest::Http2AllowedAttribute, false);
    for (const auto &[name, value] : headers)
        request.setRawHeader(name, value);
    return request;
}

// The ports outgoing connections are given: net.ipv4.ip_local_port_range.
std::pair<int, int> ephemeralRange()
{
    QFile file(QStringLiteral("/proc/sys/net/ipv4/ip_local_port_range"));
    if (file.open(QIODevice::ReadOnly)) {
        const QList<QByteArray> bounds = file.readAll().simplified().split(' ');
        if (bounds.size() == 2)
            return {bounds[0].toInt(), bounds[1].toInt()};
    }
    return {32768, 60999};
}

// Ten thousand ports next to the ephemeral range, below it when there is room.
std::pair<int, int> testPortRange()
{
    constexpr int span = 10000;
    const auto [low, high] = ephemeralRange();
    if (low > 1024 + span)
        return {low - span, low - 1};
    if (high < 65535 - span)
        return {high + 1, high + span};
    return {1024, 65535}; // nothing outside it: a lock still keeps tests apart
}

// Takes the run-wide lock on `port`; the descriptor stays open (and the lock
// held) until this process ends.
bool lockPort(const QString &dir, int port)
{
    const QByteArray path = QFile::encodeName(dir + QLatin1Char('/') + QString::number(port));
    const int fd = ::open(path.constData(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return false;
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ::close(fd);
        return false;
    }
    return true;
}

} // namespace

quint16 freePort()
{
    const QString dir = QDir::tempPath() + QStringLiteral("/sb-test-ports");
    QDir().mkpath(dir);
    QFile::setPermissions(dir, QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner
                                   | QFileDevice::ReadGroup | QFileDevice::WriteGroup | QFileDevice::ExeGroup
                                   | QFileDevice::ReadOther | QFileDevice::WriteOther | QFileDevice::ExeOther);
    const auto [first, last] = testPortRange();
    const int count = last - first + 1;
    const int start = static_cast<int>(QRandomGenerator::global()->bounded(count));
    for (int i = 0; i < count; ++i) {
        const int port = first + (start + i) % count;
        if (!lockPort(dir, port))
            continue; // another test of this run holds it
        QTcpServer probe;
        if (probe.listen(QHostAddress::LocalHost, static_cast<quint16>(port)))
            return static_cast<quint16>(port);
        // Something outside the tests listens there; the lock stays taken.
    }
    return 0;
}

HttpResult httpGet(quint16 port, const QString &path, const QList<QPair<QByteArray, QByteArray>> &headers)
{
    return finish(nam().get(makeRequest(port, path, headers)));
}

HttpResult httpPost(quint16 port, const QString &path, const QByteArray &body,
                    const QList<QPair<QByteArray, QByteArray>> &headers)
{
    QNetworkRequest request = makeRequest(port, path, headers);
    request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    return finish(nam().post(request, body));
}

QByteArray rawExchange(quint16 port, const QByteArray &request, int timeoutMs)
{
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, port);
    if (!socket.waitForConnected(timeoutMs))
        return {};
    socket.write(request);
    QByteArray answer;
    QDeadlineTimer deadline(timeoutMs);
    while (socket.state() == QAbstractSocket::ConnectedState && !deadline.hasExpired()) {
        QTest::qWait(5);
        answer += socket.readAll();
    }
    answer += socket.readAll();
    return answer;
}

QByteArray upgradeRequest(const QString &target, const QList<QPair<QByteArray, QByteArray>> &headers)
{
    QByteArray key(16, Qt::Uninitialized);
    for (char &byte : key)
        byte = static_cast<char>(QRandomGenerator::global()->bounded(256));
    QByteArray request = "GET " + target.toUtf8() + " HTTP/1.1\r\n"
                         "Host: 127.0.0.1\r\n"
                         "Upgrade: websocket\r\n"
                         "Connection: Upgrade\r\n"
                         "Sec-WebSocket-Version: 13\r\n"
                         "Sec-WebSocket-Key: " + key.toBase64() + "\r\n";
    for (const auto &[name, value] : headers)
        request += name + ": " + value + "\r\n";
    return request + "\r\n";
}

int statusOf(const QByteArray &response)
{
    const QList<QByteArray> statusLine = response.left(response.indexOf("\r\n")).split(' ');
    if (statusLine.size() < 2 || !statusLine.first().startsWith("HTTP/1."))
        return 0;
    return statusLine.at(1).toInt();
}

QByteArray headerOf(const QByteArray &response, const QByteArray &name)
{
    const QByteArray head = response.left(response.indexOf("\r\n\r\n"));
    const QList<QByteArray> lines = head.split('\n');
    for (qsizetype i = 1; i < lines.size(); ++i) {
        const QByteArray line = lines.at(i).trimmed();
        const qsizetype colon = line.indexOf(':');
        if (colon > 0 && line.left(colon).trimmed().toLower() == name.toLower())
            return line.mid(colon + 1).trimmed();
    }
    return {};
}

double metricValue(quint16 port, const QString &name, const QStringList &labelMatchers)
{
    const HttpResult metrics = httpGet(port, QStringLiteral("/metrics"));
    const QByteArray prefix = name.toUtf8();
    double sum = 0;
    for (const QByteArray &line : metrics.body.split('\n')) {
        if (!line.startsWith(prefix) || line.size() <= prefix.size())
            continue;
        const char next = line.at(prefix.size());
        if (next != ' ' && next != '{')
            continue; // another metric whose name starts the same way
        const qsizetype valueAt = line.lastIndexOf(' ');
        const QByteArray labels = line.mid(prefix.size(), valueAt - prefix.size());
        const bool matches = std::all_of(labelMatchers.cbegin(), labelMatchers.cend(), [&](const QString &m) {
            return labels.contains(m.toUtf8());
        });
        if (matches)
            sum += line.mid(valueAt + 1).toDouble();
    }
    return sum;
}

sb::Config testConfig(const QString &dataDir, const QStringList &flags)
{
    QStringList args{QStringLiteral("--listen"), QStringLiteral("127.0.0.1:0"),
                     QStringLiteral("--data"), dataDir,
                     QStringLiteral("--ticker"), QStringLiteral("off"),
                     QStringLiteral("--operator-key"), QStringLiteral("test-operator-key"),
                     QStringLiteral("--instance-id"), QStringLiteral("test-1")};
    args += flags;
    const sb::ConfigResult parsed = sb::parseConfig(args, {});
    if (!parsed.config)
        qFatal("bad test config: %s", qPrintable(parsed.error));
    return *parsed.config;
}

TestServer::TestServer(const QStringList &flags, const QString &dataDir)
{
    if (dataDir.isEmpty()) {
        m_tmp = std::make_unique<QTemporaryDir>();
        m_dataDir = m_tmp->path();
    } else {
        m_dataDir = dataDir;
    }
    m_server = std::make_unique<sb::Server>(testConfig(m_dataDir, flags));
    QString error;
    if (!m_server->start(&error))
        qFatal("test server did not start: %s", qPrintable(error));
    waitReady();
}

TestServer::~TestServer()
{
    stop();
}

void TestServer::stop()
{
    m_server.reset();
    QTest::qWait(20); // let deleteLater'd sockets go
}

bool TestServer::waitReady(int timeoutMs)
{
    QDeadlineTimer deadline(timeoutMs);
    while (!deadline.hasExpired()) {
        if (m_server->readiness() == sb::Server::Readiness::Ready)
            return true;
        QTest::qWait(10);
    }
    return false;
}

Token issueToken(quint16 port, const QString &user, const QString &clientId, const QString &role,
                 const QString &operatorKey)
{
    QJsonObject body{{QStringLiteral("user"), user}};
    if (!clientId.isEmpty())
        body.insert(QStringLiteral("client_id"), clientId);
    if (!role.isEmpty())
        body.insert(QStringLiteral("role"), role);
    QList<QPair<QByteArray, QByteArray>> headers;
    if (!operatorKey.isEmpty())
        headers.append({QByteArrayLiteral("Authorization"), "Bearer " + operatorKey.toUtf8()});
    const HttpResult r = httpPost(port, QStringLiteral("/api/token"), sb::encode(body), headers);
    const QJsonObject o = r.json();
    return {o.value(QStringLiteral("token")).toString(), o.value(QStringLiteral("client_id")).toString(),
            o.value(QStringLiteral("instance")).toString()};
}

TestClient::TestClient()
{
    m_socket.setMaxAllowedIncomingMessageSize(64 * 1024 * 1024);
    connect(&m_socket, &QWebSocket::textMessageReceived, this, [this](const QString &text) {
        const auto object = sb::decodeObject(text.toUtf8());
        if (!object) {
            qWarning("server sent a frame that is not a JSON object: %s", qPrintable(text.left(200)));
            return;
        }
        if (object->value(QStringLiteral("type")).toString() == QStringLiteral("welcome"))
            m_welcome = *object;
        m_frames.append(*object);
    });
    connect(&m_socket, &QWebSocket::disconnected, this, [this] {
        m_closed = true;
        m_closeCode = m_socket.closeCode();
        m_closeReason = m_socket.closeReason();
    });
}

TestClient::~TestClient()
{
    m_socket.abort();
}

bool TestClient::open(quint16 port, const QString &token, const QList<QPair<QByteArray, QByteArray>> &headers)
{
    QNetworkRequest request(QUrl(QStringLiteral("ws://127.0.0.1:%1/ws?token=%2")
                                     .arg(port)
                                     .arg(QString::fromLatin1(QUrl::toPercentEncoding(token)))));
    for (const auto &[name, value] : headers)
        request.setRawHeader(name, value);
    m_socket.open(request);
    QDeadlineTimer deadline(5000);
    while (!deadline.hasExpired() && m_welcome.isEmpty() && !m_closed
           && !(m_socket.state() == QAbstractSocket::UnconnectedState && m_socket.error() != QAbstractSocket::UnknownSocketError))
        QTest::qWait(5);
    return !m_welcome.isEmpty();
}

bool TestClient::connectAs(quint16 port, const QString &user, const QString &clientId, const QString &role,
                           const QString &operatorKey)
{
    const Token token = issueToken(port, user, clientId, role, operatorKey);
    if (token.token.isEmpty())
        return false;
    return open(port, token.token);
}

void TestClient::send(const QJsonObject &frame)
{
    m_socket.sendTextMessage(QString::fromUtf8(sb::encode(frame)));
}

void TestClient::sendRaw(const QString &text)
{
    m_socket.sendTextMessage(text);
}

QJsonObject TestClient::request(QJsonObject frame, int timeoutMs)
{
    const QString ref = QStringLiteral("r%1").arg(m_nextRef++);
    frame.insert(QStringLiteral("ref"), ref);
    const qsizetype from = m_frames.size();
    send(frame);
    QDeadlineTimer deadline(timeoutMs);
    while (!deadline.hasExpired()) {
        for (qsizetype i = from; i < m_frames.size(); ++i) {
            if (m_frames[i].value(QStringLiteral("ref")).toString() == ref)
                return m_frames[i];
        }
        if (m_closed)
            break;
        QTest::qWait(2);
    }
    return {};
}

QJsonObject TestClient::join(const QString &room, qint64 since)
{
    QJsonObject frame{{QStringLiteral("type"), QStringLiteral("join")}, {QStringLiteral("room"), room}};
    if (since >= 0)
        frame.insert(QStringLiteral("since"), since);
    return request(frame);
}

QJsonObject TestClient::chat(const QString &room, const QString &text, const QString &nonce)
{
    QJsonObject frame{{QStringLiteral("type"), QStringLiteral("chat")}, {QStringLiteral("room"), room},
                      {QStringLiteral("text"), text}};
    if (!nonce.isEmpty())
        frame.insert(QStringLiteral("nonce"), nonce);
    return request(frame);
}

QJsonObject TestClient::waitFor(const std::function<bool(const QJsonObject &)> &match, int timeoutMs)
{
    QDeadlineTimer deadline(timeoutMs);
    qsizetype checked = 0;
    for (;;) {
        for (; checked < m_frames.size(); ++checked) {
            if (match(m_frames[checked]))
                return m_frames[checked];
        }
        if (deadline.hasExpired())
            return {};
        QTest::qWait(2);
    }
}

QJsonObject TestClient::waitForType(const QString &type, int timeoutMs)
{
    return waitFor([type](const QJsonObject &f) { return f.value(QStringLiteral("type")).toString() == type; },
                   timeoutMs);
}

QList<QJsonObject> TestClient::framesOfType(const QString &type) const
{
    QList<QJsonObject> out;
    for (const QJsonObject &f : m_frames) {
        if (f.value(QStringLiteral("type")).toString() == type)
            out.append(f);
    }
    return out;
}

bool TestClient::waitClosed(int timeoutMs)
{
    QDeadlineTimer deadline(timeoutMs);
    while (!m_closed && !deadline.hasExpired())
        QTest::qWait(5);
    return m_closed;
}

} // namespace sbtest
