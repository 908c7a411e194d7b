#include "messagedelegate.h"

#include "models/messagesmodel.h"

#include <QAbstractItemView>
#include <QAbstractTextDocumentLayout>
#include <QColor>
#include <QDateTime>
#include <QPainter>
#include <QTextDocument>

namespace sb::console {

namespace {

constexpr int HorizontalPadding = 8;
constexpr int VerticalPadding = 3;

QString senderColor(const QString &user, bool mine)
{
    if (mine)
        return QStringLiteral("#1c5fb0");
    // A stable, readable colour per user name.
    static const char *palette[] = {"#b5462f", "#2f7d4a", "#7a3e9d", "#a86b00", "#1f7a8c", "#9c2f6b", "#4b5fa8", "#5f7d1f"};
    const size_t n = sizeof(palette) / sizeof(palette[0]);
    return QString::fromLatin1(palette[qHash(user) % n]);
}

} // namespace

MessageDelegate::MessageDelegate(QAbstractItemView *view)
    : QStyledItemDelegate(view)
    , m_view(view)
{
}

QString MessageDelegate::html(const QModelIndex &index)
{
    const auto kind = static_cast<MessagesModel::Kind>(index.data(MessagesModel::KindRole).toInt());
    const QString text = index.data(MessagesModel::TextRole).toString().toHtmlEscaped();
    if (kind == MessagesModel::Kind::Notice)
        return QStringLiteral("<div align=\"center\" style=\"color:#806000\"><i>%1</i></div>").arg(text);
    const QString time = QDateTime::fromMSecsSinceEpoch(index.data(MessagesModel::TimeRole).toLongLong()).toString(QStringLiteral("HH:mm"));
    const QString from = index.data(MessagesModel::FromRole).toString();
    const bool mine = index.data(MessagesModel::MineRole).toBool();
    QString body = QStringLiteral("<span style=\"color:#8a94a3\">%1</span>&nbsp;&nbsp;<b style=\"color:%2\">%3</b>&nbsp;&nbsp;%4")
                       .arg(time, senderColor(from, mine), from.toHtmlEscaped(), text);
    if (kind == MessagesModel::Kind::Pending)
        return QStringLiteral("<span style=\"color:#8a8a8a\"><i>%1&nbsp;&nbsp;%2</i></span>")
            .arg(body, QObject::tr("(not sent yet)"));
    if (kind == MessagesModel::Kind::Failed)
        return QStringLiteral("<span style=\"color:#c01c28\">%1&nbsp;&nbsp;<i>%2</i></span>")
            .arg(body, QObject::tr("(not sent: %1)").arg(index.data(MessagesModel::ErrorRole).toString().toHtmlEscaped()));
    return body;
}

void MessageDelegate::layout(QTextDocument &doc, const QStyleOptionViewItem &option, const QModelIndex &index) const
{
    doc.setDefaultFont(option.font);
    doc.setDocumentMargin(0);
    doc.setHtml(html(index));
    const int width = m_view ? m_view->viewport()->width() - 4 : option.rect.width();
    doc.setTextWidth(qMax(50, width - 2 * HorizontalPadding));
}

void MessageDelegate::paint(QPainter *painter, const QStyleOptionViewItem &option, const QModelIndex &index) const
{
    QStyleOptionViewItem opt = option;
    initStyleOption(&opt, index);
    QTextDocument doc;
    layout(doc, opt, index);
    painter->save();
    if (index.data(MessagesModel::MineRole).toBool()
        && static_cast<MessagesModel::Kind>(index.data(MessagesModel::KindRole).toInt()) == MessagesModel::Kind::Message)
        painter->fillRect(opt.rect, QColor(0xf0, 0xf5, 0xfc));
    painter->translate(opt.rect.left() + HorizontalPadding, opt.rect.top() + VerticalPadding);
    QAbstractTextDocumentLayout::PaintContext context;
    context.palette = opt.palette;
    doc.documentLayout()->draw(painter, context);
    painter->restore();
}

QSize MessageDelegate::sizeHint(const QStyleOptionViewItem &option, const QModelIndex &index) const
{
    QStyleOptionViewItem opt = option;
    initStyleOption(&opt, index);
    QTextDocument doc;
    layout(doc, opt, index);
    return {static_cast<int>(doc.textWidth()) + 2 * HorizontalPadding, static_cast<int>(doc.size().height()) + 2 * VerticalPadding};
}

} // namespace sb::console
