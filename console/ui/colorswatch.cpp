#include "colorswatch.h"

#include <QPainter>

namespace sb::console {

ColorSwatch::ColorSwatch(QWidget *parent)
    : QWidget(parent)
{
    setFixedSize(16, 16);
}

void ColorSwatch::setColor(const QColor &color)
{
    m_color = color;
    update();
}

void ColorSwatch::paintEvent(QPaintEvent *)
{
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    p.setPen(QPen(m_color.darker(140), 1));
    p.setBrush(m_color);
    p.drawEllipse(rect().adjusted(1, 1, -1, -1));
}

} // namespace sb::console
