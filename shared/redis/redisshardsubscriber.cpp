#include "redisshardsubscriber.h"

#include "redisconnection.h" // lcRedis
#include "redisreply.h"

#include <QTcpSocket>

#include <hiredis/hiredis.h>

namespace sb {

namespace {

QByteArray resp(const QList<QByteArray> &argv)
{
    QByteArray out = '*' + QByteArray::number(argv.size()) + "\r\n";
    for (const QByteArray &arg : argv)
        out += '$' + QByteArray::number(arg.size()) + "\r\n" + arg + "\r\n";
    return out;
}

} // namespace

RedisShardSubscriber::RedisShardSubscriber(QObject *parent)
    : QObject(parent)
{
    m_connectTimer.setSingleShot(true);
    connect(&m_connectTimer, &QTimer::timeout, this, [this] {
        fail(QStringLiteral("no connection within %1 ms").arg(m_connectTimeoutMs));
    });
    m_replyTimer.setSingleShot(true);
    connect(&m_replyTimer, &QTimer::timeout, this, [this] {
        if (!m_expected.empty())
            fail(QStringLiteral("no reply within %1 ms").arg(m_replyTimeoutMs));
    });
}

RedisShardSubscriber::~RedisShardSubscriber()
{
    if (m_socket) {
        QObject::disconnect(m_socket.get(), nullptr, this, nullptr);
        m_socket->abort();
    }
    if (m_reader)
        redisReaderFree(m_reader);
}

void RedisShardSubscriber::connectTo(const RedisAddress &address)
{
    if (m_active)
        return;
    m_active = true;
    m_connected = false;
    m_address = address;
    m_expected.clear();
    if (m_reader)
        redisReaderFree(m_reader);
    m_reader = redisReaderCreate();
    limitReplySize(m_reader);
    m_socket = std::make_unique<QTcpSocket>();
    connect(m_socket.get(), &QTcpSocket::connected, this, [this] {
        if (m_address.password.isEmpty()) {
            m_connectTimer.stop();
            m_connected = true;
            Q_EMIT connected();
            return;
        }
        QList<QByteArray> auth{QByteArrayLiteral("AUTH")};
        if (!m_address.username.isEmpty())
            auth.append(m_address.username);
        auth.append(m_address.password);
        m_expected.emplace_back(Expect::Auth, QByteArray());
        write(auth);
    });
    connect(m_socket.get(), &QTcpSocket::readyRead, this, &RedisShardSubscriber::onReadyRead);
    connect(m_socket.get(), &QTcpSocket::errorOccurred, this,
            [this](QAbstractSocket::SocketError) { fail(m_socket->errorString()); });
    connect(m_socket.get(), &QTcpSocket::disconnected, this,
            [this] { fail(QStringLiteral("server closed the connection")); });
    m_connectTimer.start(m_connectTimeoutMs);
    m_socket->connectToHost(address.host, address.port);
}

void RedisShardSubscriber::disconnectFromServer()
{
    if (!m_active)
        return;
    fail(QString());
}

void RedisShardSubscriber::fail(const QString &error)
{
    if (!m_active)
        return;
    m_active = false;
    m_connected = false;
    m_connectTimer.stop();
    m_replyTimer.stop();
    m_expected.clear();
    if (!error.isEmpty())
        qCWarning(lcRedis).noquote() << "sharded subscriber" << m_address.hostPort() << "lost:" << error;
    if (m_socket) {
        QObject::disconnect(m_socket.get(), nullptr, this, nullptr);
        m_socket->abort();
        // Not deleted here: this may run inside one of its signals.
        m_socket.release()->deleteLater();
    }
    QMetaObject::invokeMethod(this, [this, error] { Q_EMIT disconnected(error); }, Qt::QueuedConnection);
}

void RedisShardSubscriber::write(const QList<QByteArray> &argv)
{
    if (!m_socket)
        return;
    m_socket->write(resp(argv));
    if (!m_replyTimer.isActive())
        m_replyTimer.start(m_replyTimeoutMs);
}

void RedisShardSubscriber::ssubscribe(const QByteArray &channel)
{
    if (!m_connected)
        return;
    m_expected.emplace_back(Expect::Subscribe, channel);
    write({QByteArrayLiteral("SSUBSCRIBE"), channel});
}

void RedisShardSubscriber::sunsubscribe(const QByteArray &channel)
{
    if (!m_connected)
        return;
    m_expected.emplace_back(Expect::Unsubscribe, channel);
    write({QByteArrayLiteral("SUNSUBSCRIBE"), channel});
}

void RedisShardSubscriber::onReadyRead()
{
    const QByteArray data = m_socket->readAll();
    if (redisReaderFeed(m_reader, data.constData(), static_cast<size_t>(data.size())) != REDIS_OK) {
        fail(QStringLiteral("protocol error"));
        return;
    }
    while (m_active) {
        void *raw = nullptr;
        if (redisReaderGetReply(m_reader, &raw) != REDIS_OK) {
            fail(QStringLiteral("protocol error: ") + QString::fromUtf8(m_reader->errstr));
            return;
        }
        if (!raw)
            return;
        const RedisReply reply = RedisReply::fromHiredis(static_cast<redisReply *>(raw));
        freeReplyObject(raw);
        onReply(reply);
        if (m_expected.empty())
            m_replyTimer.stop();
        else if (m_active)
            m_replyTimer.start(m_replyTimeoutMs); // the next one has as long
    }
}

void RedisShardSubscriber::onReply(const RedisReply &reply)
{
    const auto pop = [this]() -> std::pair<Expect, QByteArray> {
        if (m_expected.empty())
            return {Expect::Unsubscribe, QByteArray()};
        auto front = m_expected.front();
        m_expected.pop_front();
        return front;
    };
    if (reply.isArray() && reply.size() >= 2 && reply.at(0).isString()) {
        const QByteArray kind = reply.at(0).bytes().toLower();
        const QByteArray &channel = reply.at(1).bytes();
        if (kind == "smessage" && reply.size() >= 3) {
            Q_EMIT message(channel, reply.at(2).bytes());
        } else if (kind == "ssubscribe") {
            if (!m_expected.empty() && m_expected.front() == std::pair{Expect::Subscribe, channel})
                m_expected.pop_front();
            Q_EMIT subscribed(channel);
        } else if (kind == "sunsubscribe") {
            if (!m_expected.empty() && m_expected.front() == std::pair{Expect::Unsubscribe, channel})
                m_expected.pop_front();
            else
                Q_EMIT lost(channel); // the node gave the slot up (failover, migration)
        }
        return;
    }
    const auto [expect, channel] = pop();
    if (expect == Expect::Auth) {
        if (reply.isError()) {
            fail(QStringLiteral("AUTH refused: ") + reply.text());
            return;
        }
        m_connectTimer.stop();
        m_connected = true;
        Q_EMIT connected();
        return;
    }
    if (reply.isError() && expect == Expect::Subscribe)
        Q_EMIT refused(channel, reply.bytes());
}

} // namespace sb
