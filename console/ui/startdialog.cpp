#include "startdialog.h"

#include "protocol.h"
#include "app/launchoptions.h"
#include "redisaddress.h"
#include "services/operatorhub.h"

#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QRadioButton>
#include <QRegularExpression>
#include <QVBoxLayout>

namespace sb::console {

StartDialog::StartDialog(QWidget *parent)
    : QDialog(parent)
    , m_operator(new QRadioButton(tr("Operator console: watch and steer instances"), this))
    , m_client(new QRadioButton(tr("Participant client: chat, todos, broadcasts"), this))
    , m_operatorFields(new QWidget(this))
    , m_clientFields(new QWidget(this))
    , m_instances(new QLineEdit(m_operatorFields))
    , m_redis(new QLineEdit(m_operatorFields))
    , m_server(new QLineEdit(m_clientFields))
    , m_user(new QLineEdit(m_clientFields))
    , m_error(new QLabel(this))
{
    setWindowTitle(tr("Switchboard Console"));
    m_operator->setChecked(true);
    m_instances->setPlaceholderText(tr("http://127.0.0.1:8080, http://127.0.0.1:8081"));
    m_redis->setPlaceholderText(tr("redis://127.0.0.1:6379 (optional: finds the instances by itself)"));
    m_server->setPlaceholderText(tr("http://127.0.0.1:8080 (an instance or the load balancer)"));
    m_user->setPlaceholderText(tr("1-32 of A-Z a-z 0-9 _ . -"));
    m_error->setStyleSheet(QStringLiteral("color: #c01c28;"));
    m_error->setWordWrap(true);

    auto *operatorForm = new QFormLayout(m_operatorFields);
    operatorForm->setContentsMargins(24, 0, 0, 0);
    operatorForm->addRow(tr("Instance URLs:"), m_instances);
    operatorForm->addRow(tr("Redis:"), m_redis);
    auto *clientForm = new QFormLayout(m_clientFields);
    clientForm->setContentsMargins(24, 0, 0, 0);
    clientForm->addRow(tr("Server URL:"), m_server);
    clientForm->addRow(tr("User name:"), m_user);

    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(m_operator);
    layout->addWidget(m_operatorFields);
    layout->addSpacing(8);
    layout->addWidget(m_client);
    layout->addWidget(m_clientFields);
    layout->addWidget(m_error);
    layout->addWidget(buttons);
    setMinimumWidth(520);

    connect(m_operator, &QRadioButton::toggled, this, &StartDialog::updateFields);
    connect(buttons, &QDialogButtonBox::accepted, this, &StartDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &StartDialog::reject);
    updateFields();
}

void StartDialog::lockMode(Mode mode)
{
    (mode == Mode::Operator ? m_operator : m_client)->setChecked(true);
    m_operator->setVisible(false);
    m_client->setVisible(false);
    m_operatorFields->setVisible(mode == Mode::Operator);
    m_clientFields->setVisible(mode == Mode::Client);
    setWindowTitle(mode == Mode::Operator ? tr("Switchboard — instances to watch") : tr("Switchboard — sign in"));
}

void StartDialog::updateFields()
{
    m_operatorFields->setEnabled(m_operator->isChecked());
    m_clientFields->setEnabled(m_client->isChecked());
}

void StartDialog::setInstanceUrls(const QList<QUrl> &urls)
{
    QStringList list;
    for (const QUrl &u : urls)
        list.append(u.toString());
    m_instances->setText(list.isEmpty() ? QStringLiteral("http://127.0.0.1:8080") : list.join(QStringLiteral(", ")));
}

void StartDialog::setRedisUrl(const QString &url)
{
    m_redis->setText(url);
}

QString StartDialog::redisUrl() const
{
    return m_redis->text().trimmed();
}

void StartDialog::setServer(const QUrl &url, const QString &user)
{
    m_server->setText(url.toString());
    m_user->setText(user);
}

StartDialog::Mode StartDialog::mode() const
{
    return m_client->isChecked() ? Mode::Client : Mode::Operator;
}

QList<QUrl> StartDialog::instanceUrls() const
{
    QList<QUrl> out;
    const QStringList parts = m_instances->text().split(QRegularExpression(QStringLiteral("[,\\s]+")), Qt::SkipEmptyParts);
    for (const QString &p : parts) {
        const QUrl url = OperatorHub::normalizeUrl(p);
        if (!url.isEmpty())
            out.append(url);
    }
    return out;
}

QUrl StartDialog::serverUrl() const
{
    return OperatorHub::normalizeUrl(m_server->text());
}

QString StartDialog::user() const
{
    return m_user->text().trimmed();
}

void StartDialog::accept()
{
    if (mode() == Mode::Operator) {
        const QString why = redisUrl().isEmpty() ? QString() : redisUrlProblem(redisUrl());
        if (!why.isEmpty()) {
            m_error->setText(tr("The Redis URL is not usable: %1").arg(why));
            return;
        }
        if (instanceUrls().isEmpty() && redisUrl().isEmpty()) {
            m_error->setText(tr("Give at least one instance URL, such as http://127.0.0.1:8080, or the cluster's Redis."));
            return;
        }
    }
    if (mode() == Mode::Client) {
        if (serverUrl().isEmpty()) {
            m_error->setText(tr("Give the server's URL, such as http://127.0.0.1:8080."));
            return;
        }
        if (!isValidUser(user())) {
            m_error->setText(tr("A user name is 1-32 characters of A-Z, a-z, 0-9, '_', '.' and '-'."));
            return;
        }
    }
    QDialog::accept();
}

} // namespace sb::console
