#include "injectpanel.h"

#include "app/operatorsession.h"
#include "protocol.h"

#include <QComboBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QVBoxLayout>

namespace sb::console {

InjectPanel::InjectPanel(OperatorSession &session, QWidget *parent)
    : QWidget(parent)
    , m_session(session)
    , m_kind(new QComboBox(this))
    , m_value(new QComboBox(this))
    , m_text(new QPlainTextEdit(this))
    , m_send(new QPushButton(tr("Send announcement"), this))
    , m_result(new QLabel(this))
{
    m_kind->addItem(tr("Everyone"), static_cast<int>(InjectTarget::Kind::All));
    m_kind->addItem(tr("Room"), static_cast<int>(InjectTarget::Kind::Room));
    m_kind->addItem(tr("Instance"), static_cast<int>(InjectTarget::Kind::Instance));
    m_kind->addItem(tr("Client ID"), static_cast<int>(InjectTarget::Kind::ClientId));
    m_kind->addItem(tr("Session ID"), static_cast<int>(InjectTarget::Kind::SessionId));
    m_value->setEditable(true);
    m_value->setInsertPolicy(QComboBox::NoInsert);
    m_value->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_value->setMinimumContentsLength(12);
    m_text->setPlaceholderText(tr("Announcement text (1-4000 characters)"));
    m_text->setTabChangesFocus(true);
    m_text->setMinimumHeight(50);
    m_result->setWordWrap(true);
    m_result->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto *form = new QFormLayout;
    form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    auto *targetRow = new QHBoxLayout;
    targetRow->addWidget(m_kind);
    targetRow->addWidget(m_value, 1);
    form->addRow(tr("To:"), targetRow);
    form->addRow(tr("Text:"), m_text);
    auto *bottom = new QHBoxLayout;
    bottom->addWidget(m_result, 1);
    bottom->addWidget(m_send, 0, Qt::AlignTop);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->addLayout(form, 1);
    layout->addLayout(bottom);

    connect(m_kind, &QComboBox::currentIndexChanged, this, &InjectPanel::updateSuggestions);
    connect(m_send, &QPushButton::clicked, this, &InjectPanel::send);
    updateSuggestions();
}

void InjectPanel::updateSuggestions()
{
    const auto kind = static_cast<InjectTarget::Kind>(m_kind->currentData().toInt());
    const QString current = m_value->currentText();
    QStringList suggestions;
    switch (kind) {
    case InjectTarget::Kind::All: break;
    case InjectTarget::Kind::Room: suggestions = m_session.connections().knownRooms(); break;
    case InjectTarget::Kind::Instance: suggestions = m_session.instances().instanceIds(); break;
    case InjectTarget::Kind::ClientId: suggestions = m_session.connections().knownClients(); break;
    case InjectTarget::Kind::SessionId: break;
    }
    m_value->clear();
    m_value->addItems(suggestions);
    m_value->setEditText(kind == InjectTarget::Kind::All ? QString() : current);
    m_value->setEnabled(kind != InjectTarget::Kind::All);
    m_value->lineEdit()->setPlaceholderText(kind == InjectTarget::Kind::All ? tr("every connected socket") : tr("name or id"));
}

void InjectPanel::setTarget(const InjectTarget &target)
{
    m_kind->setCurrentIndex(m_kind->findData(static_cast<int>(target.kind)));
    m_value->setEditText(target.value);
    m_text->setFocus();
}

InjectTarget InjectPanel::target() const
{
    return {static_cast<InjectTarget::Kind>(m_kind->currentData().toInt()), m_value->currentText().trimmed()};
}

void InjectPanel::setText(const QString &text)
{
    m_text->setPlainText(text);
}

QString InjectPanel::resultText() const
{
    return m_result->text();
}

void InjectPanel::showResult(const QString &text, bool ok)
{
    m_result->setStyleSheet(ok ? QStringLiteral("color: #1b7f3b;") : QStringLiteral("color: #c01c28;"));
    m_result->setText(text);
}

void InjectPanel::send()
{
    const InjectTarget t = target();
    const QString text = m_text->toPlainText().trimmed();
    if (text.isEmpty()) {
        showResult(tr("Write the announcement first."), false);
        return;
    }
    if (codePointLength(text) > Limits::MaxChatText) {
        showResult(tr("An announcement is at most %1 characters.").arg(Limits::MaxChatText), false);
        return;
    }
    if (t.kind != InjectTarget::Kind::All && t.value.isEmpty()) {
        showResult(tr("Say which %1 to send to.").arg(m_kind->currentText().toLower()), false);
        return;
    }
    if (t.kind == InjectTarget::Kind::Room && !isValidRoom(t.value)) {
        showResult(tr("\"%1\" is not a valid room name.").arg(t.value), false);
        return;
    }
    m_send->setEnabled(false);
    showResult(tr("Sending…"), true);
    m_session.inject(t, text, this, [this, t](const Reply &reply) {
        m_send->setEnabled(true);
        if (!reply.ok) {
            showResult(tr("Not sent: %1").arg(reply.text), false);
            Q_EMIT finished(false, 0);
            return;
        }
        const qint64 recipients = reply.frame.value(QLatin1StringView("recipients")).toInteger();
        QString text = recipients == 1 ? tr("Delivered to 1 socket (%1).").arg(t.toString())
                                       : tr("Delivered to %1 sockets (%2).").arg(recipients).arg(t.toString());
        if (!reply.text.isEmpty())
            text += QLatin1Char('\n') + tr("Some instances failed: %1").arg(reply.text);
        showResult(text, recipients > 0 || reply.text.isEmpty());
        Q_EMIT finished(true, recipients);
    });
}

} // namespace sb::console
